"""The one "Map shows: estimate / interval width / how sure" control and its legend, shared by every map page.

The images come from the pure builder (dashboard.uncertainty_layers.view_layer); this module holds only
the Streamlit side, so a page adds the toggle with two calls and every page words it the same way.
"""

from __future__ import annotations

import streamlit as st

from dashboard.uncertainty_layers import LEVEL, PM25, VIEWS, Scale, how_sure_note


def view_control(key: str, container=None, horizontal: bool = False) -> str:
    """The view radio (one of VIEWS), keyed per page; ``container`` a column or st (default)."""
    return (container or st).radio(
        "Map shows", VIEWS, key=key, horizontal=horizontal,
        help=f"The estimate, the width of its {LEVEL} interval, or the estimate with unsure cells faded and hatched.")


def shown_view(view: str, has_interval: bool) -> str:
    """What the map actually shows: without an interval every view falls back to the estimate."""
    return view if has_interval else "estimate"


def legend(view: str, when: str, has_interval: bool, who: str, scale: Scale | None = None,
           container=None, title: str | None = None, width_title: str | None = None,
           tooltips: bool = True) -> None:
    """The legend of what the map shows, with the interval's level; says so when the model gives no interval.

    ``when``: e.g. "daily mean" or "07:00"; ``who``: the model (or models) named in the fallback message;
    ``title`` / ``width_title`` replace the default legend titles; ``tooltips``: the map's tooltips give intervals.
    """
    scale, out = scale or PM25, container or st
    if not has_interval and view != "estimate":
        out.info(f"{who} gives no {LEVEL} interval on the grid, so the map shows the estimate.")
    if view == "interval width" and has_interval:
        out.markdown(scale.width_legend(width_title or f"Width of the {LEVEL} interval, {scale.what} {when} "
                                                       f"({scale.unit})"), unsafe_allow_html=True)
    else:
        tail = f" · {LEVEL} intervals in tooltips" if has_interval and tooltips else ""
        out.markdown(scale.legend((title or f"{scale.what} {when} ({scale.unit}){scale.legend_note}") + tail),
                     unsafe_allow_html=True)
        if view == "how sure" and has_interval:
            out.caption(how_sure_note(scale))
