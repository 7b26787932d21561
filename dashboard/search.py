"""Place search (pure): a district, city or station name (Chinese or pinyin where the data has it), or "lat, lon".

The index is a DataFrame ``label, kind, lat, lon, keys`` built once from what the data holds:
cnmaps districts (Chinese names, centroid), GeoNames places (pinyin and Chinese), stations (name, city, code).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*$")
_SUFFIXES = ("市", "区", "县", "站")


def _norm(text: str) -> str:
    t = str(text).strip().lower().replace(" ", "")
    for s in _SUFFIXES:
        if len(t) > len(s) and t.endswith(s):
            t = t[: -len(s)]
    return t


def build_index(districts: dict | None, places: pd.DataFrame | None, stations: pd.DataFrame | None) -> pd.DataFrame:
    """Searchable places; ``districts`` is a GeoJSON dict (properties city, name), ``stations`` has code/name/city."""
    rows = []
    if districts:
        import shapely.geometry as sg

        for f in districts.get("features", []):
            p = f.get("properties", {})
            c = sg.shape(f["geometry"]).representative_point()
            city, name = str(p.get("city", "")), str(p.get("name", ""))
            rows.append({"label": f"{name} ({city})", "kind": "district", "lat": c.y, "lon": c.x,
                         "keys": [name, f"{city}{name}"]})
    if places is not None:
        for r in places.itertuples():
            rows.append({"label": f"{r.name} {getattr(r, 'name_zh', '')}".strip(), "kind": "city", "lat": r.lat,
                         "lon": r.lon, "keys": [str(r.name), str(getattr(r, "name_zh", ""))]})
    if stations is not None:
        for r in stations.itertuples():
            rows.append({"label": f"{r.name} ({r.city}, station {r.code})", "kind": "station", "lat": r.lat,
                         "lon": r.lon, "keys": [str(r.name), str(r.code), f"{r.city}{r.name}"]})
    return pd.DataFrame(rows, columns=["label", "kind", "lat", "lon", "keys"])


def search(query: str, index: pd.DataFrame, bbox: tuple[float, float, float, float] | None = None,
           limit: int = 8) -> tuple[pd.DataFrame, str]:
    """Matches for ``query`` (exact key first, then prefix, then substring); returns (rows, message).

    "lat, lon" (degrees) is a place of its own; outside ``bbox`` it is refused with a message.
    """
    q = str(query or "").strip()
    if not q:
        return index.iloc[0:0], ""
    m = _LATLON.match(q)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if bbox is not None and not (bbox[1] <= lat <= bbox[3] and bbox[0] <= lon <= bbox[2]):
            if bbox[1] <= lon <= bbox[3] and bbox[0] <= lat <= bbox[2]:
                return index.iloc[0:0], f"{q} is outside the map; did you mean {lon}, {lat} (lat first, then lon)?"
            return index.iloc[0:0], f"{q} is outside the map ({bbox[1]}–{bbox[3]}°N, {bbox[0]}–{bbox[2]}°E)."
        return pd.DataFrame([{"label": f"{lat:.3f}°N {lon:.3f}°E", "kind": "point", "lat": lat, "lon": lon,
                              "keys": []}]), ""
    nq = _norm(q)
    score = []
    for keys in index["keys"]:
        nk = [_norm(k) for k in keys if k]
        s = 3 if nq in nk else 2 if any(k.startswith(nq) for k in nk) else 1 if any(nq in k for k in nk) else 0
        score.append(s)
    score = np.asarray(score)
    hit = index.assign(_s=score)[score > 0].sort_values("_s", ascending=False, kind="stable").head(limit)
    if hit.empty:
        return hit.drop(columns="_s"), (f"No district, city or station matches '{q}'. Try a Chinese or pinyin name "
                                        "(e.g. 海淀, Baoding) or 'lat, lon'.")
    return hit.drop(columns="_s"), ""
