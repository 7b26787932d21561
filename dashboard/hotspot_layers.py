"""Pure pydeck builders for hotspot markers that need more than a number (no ``st.*`` calls)."""

from __future__ import annotations

import pandas as pd
import pydeck as pdk


def hidden_hotspot_layer(spots: pd.DataFrame, radius_m: float = 9000) -> pdk.Layer:
    """A thick magenta ring around each hidden hotspot's peak (> 10 km from every observed monitor)."""
    data = spots[["lat", "lon", "rank", "districts"]] if len(spots) else pd.DataFrame(
        columns=["lat", "lon", "rank", "districts"])
    return pdk.Layer("ScatterplotLayer", id="hidden_hotspots", data=data, get_position=["lon", "lat"],
                     get_radius=radius_m, radius_min_pixels=12, filled=False, stroked=True,
                     get_line_color=[200, 0, 160, 230], line_width_min_pixels=3, pickable=False)
