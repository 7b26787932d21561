"""Pure pydeck builders for proposed monitor sites (no ``st.*`` calls)."""

from __future__ import annotations

import pandas as pd
import pydeck as pdk


def site_layers(sites: pd.DataFrame) -> list[pdk.Layer]:
    """A blue diamond-like marker and the rank number at each proposed site (pickable for the tooltip)."""
    data = sites.assign(text=sites["rank"].astype(str), name="proposed monitor " + sites["rank"].astype(str),
                        city=sites["district"], code="", status="new site",
                        pm25="–", interval=[f"{p:,.0f} people in the cell" for p in sites["people"]])
    return [
        pdk.Layer("ScatterplotLayer", id="sites", data=data, get_position=["lon", "lat"], get_radius=4000,
                  radius_min_pixels=9, get_fill_color=[20, 90, 200, 230], get_line_color=[255, 255, 255, 255],
                  stroked=True, line_width_min_pixels=2, pickable=True),
        pdk.Layer("TextLayer", id="site_labels", data=data, get_position=["lon", "lat"], get_text="text",
                  get_size=13, get_color=[255, 255, 255, 255], font_weight=800, pickable=False),
    ]
