"""Pure builders for the "Environmental justice" page (no ``st.*`` calls: unit-testable).

Inputs are the per-unit table of :func:`core.exposure.unit_exposure` (GeoDataFrame: CODE, NAME,
population, pm25, vulnerability shares, geometry) and the summary of :func:`core.exposure.summarize`.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import shapely

from core.exposure import CITATIONS, VULNERABILITY, fractional_rank
from dashboard.layers import province_layer

# 3 × 3 bivariate palette (rows: exposure tercile low→high, columns: vulnerability tercile low→high).
# Exposure runs to pink, vulnerability to teal, both high to dark blue-purple.
BIVARIATE = (
    ("#e8e8e8", "#ace4e4", "#5ac8c8"),
    ("#dfb0d6", "#a5add3", "#5698b9"),
    ("#be64ac", "#8c62aa", "#3b4994"),
)
NO_DATA = "#bdbdbd"
TERCILE = ("low", "mid", "high")
PROVINCE = {"11": "Beijing", "12": "Tianjin", "13": "Hebei"}
SOURCE_LINE = ("Population and indicators: NBS, Tabulation on the 2020 China Population Census by County (2022) "
               "via Tudigong; GHSL R2023A (JRC); boundaries: Tudigong/CTAmap census units")


def indicator_label(name: str) -> str:
    return VULNERABILITY[name][0]


def hex_rgb(color: str, alpha: int = 255) -> list[int]:
    c = color.lstrip("#")
    return [int(c[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]


def weighted_terciles(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Population-weighted terciles: class 0/1/2 per unit (−1 for NaN) and the upper values of classes 0 and 1.

    A unit's class is set by the middle of its block of people in the population ranking (ties share a
    block), so each class holds about a third of the people, not a third of the units.
    """
    v, w = np.asarray(values, float), np.asarray(weights, float)
    ok = np.isfinite(v) & np.isfinite(w) & (w > 0)
    cls = np.full(len(v), -1)
    if not ok.any():
        return cls, (float("nan"), float("nan"))
    cls[ok] = np.clip(np.floor(3 * fractional_rank(v[ok], w[ok])), 0, 2).astype(int)
    cuts = tuple(float(v[ok][cls[ok] == k].max()) if (cls[ok] == k).any() else float("nan") for k in (0, 1))
    return cls, cuts


def bivariate_classes(table: pd.DataFrame, indicator: str, exposure: str = "pm25") -> pd.DataFrame:
    """Columns ``exp_class``, ``vul_class`` (0–2, −1 = no data), ``bivar_color`` (hex) and ``bivar_label``."""
    pop = table["population"].to_numpy(float)
    ok = table["covered"].to_numpy(bool) if "covered" in table else np.ones(len(table), bool)
    e, _ = weighted_terciles(np.where(ok, table[exposure].to_numpy(float), np.nan), pop)
    v, _ = weighted_terciles(np.where(ok, table[indicator].to_numpy(float), np.nan), pop)
    out = pd.DataFrame(index=table.index)
    out["exp_class"], out["vul_class"] = e, v
    out["bivar_color"] = [BIVARIATE[a][b] if a >= 0 and b >= 0 else NO_DATA for a, b in zip(e, v, strict=True)]
    out["bivar_label"] = [f"{TERCILE[a]} PM2.5 · {TERCILE[b]} vulnerability" if a >= 0 and b >= 0 else "no data"
                          for a, b in zip(e, v, strict=True)]
    return out


def _fmt(x: float, nd: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:,.{nd}f}"


def english_names(table: pd.DataFrame) -> pd.Series:
    """ENG_NAME where the polygons carry one; development zones (codes XXYY7Z) have none upstream and get
    "development zone <code>"; otherwise the Chinese NAME (a browser without CJK fonts shows boxes for it)."""
    zone = table["CODE"].astype(str).str.fullmatch(r"\d{4}7\d")
    from dashboard.names import unit_english

    # Zones: city romanised + suffix translated ("石家庄高新技术产业开发区" → "Shijiazhuang Hi-tech … Zone").
    fallback = table["NAME"].where(~zone, table["NAME"].astype(str).map(unit_english))
    if "ENG_NAME" not in table:
        return fallback
    has = table["ENG_NAME"].notna() & table["ENG_NAME"].astype(str).str.strip().ne("")
    return table["ENG_NAME"].where(has, fallback)


def choropleth_geojson(table: gpd.GeoDataFrame, indicator: str, exposure: str = "pm25",
                       tolerance: float = 0.003) -> dict:
    """FeatureCollection (EPSG:4326) with per-unit fill colour and tooltip fields; geometries simplified."""
    cls = bivariate_classes(table, indicator, exposure)
    english = english_names(table).to_numpy()
    geoms = shapely.simplify(table.geometry.values, tolerance, preserve_topology=True)
    feats = []
    for i, (row, geom) in enumerate(zip(table.itertuples(index=False), geoms, strict=True)):
        rec = row._asdict()
        feats.append({
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geom),
            "properties": {
                "code": rec["CODE"], "name": rec["NAME"], "name_en": str(english[i]),
                "fill": hex_rgb(cls["bivar_color"].iloc[i], 215),
                "pm25": _fmt(float(rec[exposure])), "vul": _fmt(100 * float(rec[indicator])),
                "population": f"{float(rec['population']):,.0f}", "klass": cls["bivar_label"].iloc[i],
            },
        })
    return {"type": "FeatureCollection", "features": feats}


def choropleth_layer(geojson: dict) -> pdk.Layer:
    return pdk.Layer("GeoJsonLayer", id="ej_units", data=geojson, stroked=True, filled=True,
                     get_fill_color="properties.fill", get_line_color=[255, 255, 255, 200],
                     line_width_min_pixels=0.6, pickable=True, auto_highlight=True)


def map_layers(units: pdk.Layer, below: list, above: list, provinces: dict | None) -> list:
    """The justice map: the context under the unit classes (``below``); over them province lines and the city
    labels of ``above`` only — its shared outline image also draws districts, which would hide the classes."""
    labels = [lyr for lyr in above if lyr.id == "places"]
    return [*below, units, *([province_layer(provinces)] if provinces else []), *labels]


TOOLTIP = {"html": "<b>{name_en} {name}</b> ({code})<br>PM2.5 {pm25} µg/m³ · vulnerability {vul} %<br>"
                   "{population} people (NBS 2020)<br>{klass}", "style": {"fontSize": "12px"}}


LEGEND_CELL_PX = 40


def legend_html(indicator: str, exp_cuts: Sequence[float], vul_cuts: Sequence[float]) -> str:
    """A 3 × 3 colour legend (PM2.5 terciles up, vulnerability terciles right) with the class limits.

    Cells of :data:`LEGEND_CELL_PX` px and 14-px text: readable beside a 540-px map; the indicator name
    wraps under the grid instead of being cut.
    """
    px = LEGEND_CELL_PX
    cells = []
    for r in (2, 1, 0):
        for c in range(3):
            cells.append(f'<div title="{TERCILE[r]} PM2.5 · {TERCILE[c]} vulnerability" '
                         f'style="width:{px}px;height:{px}px;background:{BIVARIATE[r][c]}"></div>')
    lab = html.escape(indicator_label(indicator))
    return (
        '<div class="bivariate-legend" style="display:flex;align-items:center;gap:18px;font-size:14px;'
        'line-height:1.45;margin:6px 0 4px 0">'
        '<div style="display:flex;align-items:center;gap:6px"><div style="text-align:right"><b>PM2.5</b><br>↑</div>'
        f'<div><div style="display:grid;grid-template-columns:repeat(3,{px}px);gap:2px">{"".join(cells)}</div>'
        f'<div style="text-align:center;max-width:{3 * px + 4}px;white-space:normal;font-weight:600">{lab} →</div>'
        '</div></div>'
        f'<div><b>PM2.5</b>: low ≤ {_fmt(exp_cuts[0])}, mid ≤ {_fmt(exp_cuts[1])}, high above (µg/m³)<br>'
        f'<b>{lab}</b>: low ≤ {_fmt(100 * vul_cuts[0])} %, mid ≤ {_fmt(100 * vul_cuts[1])} %, high above<br>'
        '<span style="color:#555">Population-weighted terciles (each holds about a third of the people). '
        'Dark blue-purple: most polluted and most vulnerable; grey: no data.</span></div></div>'
    )


def scatter_figure(table: pd.DataFrame, indicator: str, exposure: str = "pm25") -> go.Figure:
    """Vulnerability (%) vs PM2.5 (µg/m³), bubble area ∝ census population, colour = bivariate class."""
    cls = bivariate_classes(table, indicator, exposure)
    ok = np.isfinite(table[exposure].to_numpy(float))
    pop = table["population"].to_numpy(float)
    size = 6 + 34 * np.sqrt(pop / max(pop.max(), 1.0))
    fig = go.Figure(go.Scatter(
        x=100 * table[indicator].to_numpy(float)[ok], y=table[exposure].to_numpy(float)[ok], mode="markers",
        marker={"size": size[ok], "color": cls["bivar_color"].to_numpy()[ok], "line": {"width": 0.6, "color": "#444"},
                "opacity": 0.85},
        text=english_names(table).to_numpy()[ok],
        customdata=np.stack([table["CODE"].to_numpy()[ok], pop[ok]], axis=1),
        hovertemplate="<b>%{text}</b> (%{customdata[0]})<br>vulnerability %{x:.1f} %<br>PM2.5 %{y:.1f} µg/m³"
                      "<br>%{customdata[1]:,.0f} people<extra></extra>",
    ))
    fig.update_layout(xaxis_title=f"{indicator_label(indicator)} (%)",
                      yaxis_title="Population-weighted PM2.5 (µg/m³)", height=430,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      title={"text": "Each bubble is a census unit; area ∝ population (NBS 2020)",
                             "font": {"size": 13}})
    return fig


def ranked_table(table: pd.DataFrame, indicator: str, exposure: str = "pm25") -> pd.DataFrame:
    """Units ranked by exposure (highest first) with population, vulnerability and bivariate class."""
    cls = bivariate_classes(table, indicator, exposure)
    out = pd.DataFrame({
        "unit": english_names(table), "name (Chinese)": table["NAME"], "code": table["CODE"],
        "province": table["CODE"].astype(str).str[:2].map(PROVINCE).fillna(""),
        "population": table["population"].round(0).astype("int64"),
        "PM2.5 (µg/m³)": table[exposure].round(1),
        f"{indicator_label(indicator)} (%)": (100 * table[indicator]).round(1),
        "class": cls["bivar_label"],
    })
    days = [c for c in table.columns if c.startswith("days_above_GB3095")]
    if days:
        out["days > 75 µg/m³"] = table[days[0]]
    out = out.sort_values("PM2.5 (µg/m³)", ascending=False, na_position="last").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _millions(x: float) -> str:
    return _fmt(x / 1e6, 1) + " M"


def _bounds(summary: dict) -> str:
    lo, hi = summary.get("pop_weighted_pm25_lo"), summary.get("pop_weighted_pm25_hi")
    if lo is None or hi is None:
        return ""
    return f" (model interval {_fmt(lo)}–{_fmt(hi)} µg/m³)"


def key_sentences(summary: dict, indicator: str, period: str, model: str) -> list[str]:
    """Short plain-language sentences with the key numbers (NBS population, model surface)."""
    a = summary["above"]
    d = summary["disparity"][indicator]
    who, gb = a["WHO2021_24h_15"], a["GB3095_II_24h_75"]
    lab = indicator_label(indicator).lower()
    out = [
        f"Over {period}, the {summary['units_with_exposure']} census units ({_millions(summary['population_total'])} "
        f"people, NBS 2020 census) breathed a population-weighted mean of {_fmt(summary['pop_weighted_pm25'])} µg/m³ "
        f"of PM2.5 according to {model}{_bounds(summary)}.",
        f"On an average day {_millions(who['people'])} people ({_fmt(100 * who['share'], 0)} %) were above the "
        f"WHO 2021 24-hour guideline (15 µg/m³) and {_millions(gb['people'])} ({_fmt(100 * gb['share'], 0)} %) "
        "above the GB 3095-2012 Grade II 24-hour limit (75 µg/m³).",
    ]
    ratio, ci = d["ratio"], d["concentration_index"]
    lo, hi = d["interval"]
    if math.isfinite(ratio) and math.isfinite(ci):
        direction = ("more" if ratio > 1 else "less") if abs(ratio - 1) > 0.005 else "about as much"
        sig = " — the bootstrap interval includes 0, so no clear gradient" if lo <= 0 <= hi else ""
        out.append(
            f"The fifth of the population with the highest {lab} breathed {_fmt(d['most_vulnerable_quintile_pm25'])} "
            f"µg/m³ against {_fmt(d['least_vulnerable_quintile_pm25'])} for the lowest fifth "
            f"({direction}{' PM2.5' if direction != 'about as much' else ''}; ratio {ratio:.2f}); concentration index "
            f"{ci:+.3f} (95 % bootstrap {lo:+.3f} … {hi:+.3f}){sig}."
        )
    if "lo" in d and "hi" in d:
        out.append(f"Across the model's uncertainty bounds the ratio ranges "
                   f"{d['lo']['ratio']:.2f}–{d['hi']['ratio']:.2f}.")
    return out


def unit_csv(table: pd.DataFrame) -> str:
    df = pd.DataFrame(table.drop(columns="geometry"))
    return df.to_csv(index=False)


def unit_geojson(table: gpd.GeoDataFrame, indicator: str) -> str:
    """Full per-unit table with geometry (EPSG:4326) and the bivariate class, as GeoJSON text."""
    g = table.copy()
    g[["exp_class", "vul_class", "bivar_color", "bivar_label"]] = bivariate_classes(table, indicator)
    return g.to_json(ensure_ascii=False, drop_id=True)


def map_svg(table: gpd.GeoDataFrame, indicator: str, width: int = 460) -> str:
    """Static bivariate map as inline SVG (for the printable brief; no network needed)."""
    cls = bivariate_classes(table, indicator)
    w, s, e, n = table.total_bounds
    kx = math.cos(math.radians((s + n) / 2))  # simple equirectangular aspect at mid-latitude
    sx = width / ((e - w) * kx)
    height = int((n - s) * sx) + 2
    paths = []
    geoms = shapely.simplify(table.geometry.values, 0.01, preserve_topology=True)
    for geom, color in zip(geoms, cls["bivar_color"], strict=True):
        parts = getattr(geom, "geoms", [geom])
        d = []
        for poly in parts:
            if poly.geom_type != "Polygon":
                continue
            xy = np.asarray(poly.exterior.coords)
            pts = " ".join(f"{(x - w) * kx * sx:.1f},{(n - y) * sx:.1f}" for x, y in xy)
            d.append(f"M{pts}Z")
        paths.append(f'<path d="{" ".join(d)}" fill="{color}" stroke="#fff" stroke-width="0.4"/>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(paths)}</svg>'


def brief_html(summary: dict, table: gpd.GeoDataFrame, indicator: str, period: str, model: str,
               scenario_link: str) -> str:
    """A one-page standalone HTML brief: key numbers, map, disparity table, method, sources, scenario link."""
    esc = html.escape
    sentences = "".join(f"<li>{esc(s)}</li>" for s in key_sentences(summary, indicator, period, model))
    rows = []
    for rec in summary["above"].values():
        rows.append(f"<tr><td>{esc(rec['standard'])}</td><td>{esc(rec['averaging'])}</td>"
                    f"<td>{rec['threshold_ugm3']:g}</td><td>{_millions(rec['people'])}</td>"
                    f"<td>{_fmt(100 * rec['share'], 1)} %</td></tr>")
    disp = []
    for rec in summary["disparity"].values():
        lo, hi = rec["interval"]
        disp.append(f"<tr><td>{esc(rec['label'])}</td><td>{_fmt(rec['ratio'], 2)}</td>"
                    f"<td>{_fmt(rec['concentration_index'], 3)}</td><td>{_fmt(lo, 3)} … {_fmt(hi, 3)}</td></tr>")
    top = ranked_table(table, indicator).head(10)
    top_rows = "".join(
        f"<tr><td>{r['rank']}</td><td>{esc(str(r['unit']))} {esc(str(r['name (Chinese)']))}</td>"
        f"<td>{esc(r['province'])}</td>"
        f"<td>{r['population']:,}</td><td>{_fmt(r['PM2.5 (µg/m³)'])}</td></tr>" for _, r in top.iterrows())
    e_cls, e_cuts = weighted_terciles(table["pm25"].to_numpy(float), table["population"].to_numpy(float))
    _, v_cuts = weighted_terciles(table[indicator].to_numpy(float), table["population"].to_numpy(float))
    del e_cls
    sources = "".join(f"<li>{esc(v)}</li>" for v in CITATIONS.values())
    warn = "".join(f"<li>{esc(w)}</li>" for w in summary.get("warnings", []))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>AirAtlas — PM2.5 exposure and vulnerability, {esc(period)}</title>
<style>body{{font:13px/1.4 system-ui,sans-serif;max-width:900px;margin:18px auto;color:#222}}
h1{{font-size:19px;margin:0 0 4px}}h2{{font-size:14px;margin:14px 0 4px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}
td:first-child,th:first-child,.names td:nth-child(2){{text-align:left}}
.cols{{display:flex;gap:18px}}.small{{font-size:11px;color:#555}}@media print{{body{{margin:0}}}}</style></head><body>
<h1>Who breathes the pollution? PM2.5 exposure across Beijing–Tianjin–Hebei</h1>
<div class="small">{esc(period)} · surface: {esc(model)} · indicator: {esc(indicator_label(indicator))} ·
<a href="{esc(scenario_link)}">open this scenario in AirAtlas</a></div>
<ul>{sentences}</ul>
<div class="cols"><div>{map_svg(table, indicator)}
<div>{legend_html(indicator, e_cuts, v_cuts)}</div></div>
<div><h2>People above thresholds</h2><table><tr><th>standard</th><th>averaging</th><th>µg/m³</th><th>people</th>
<th>share</th></tr>{"".join(rows)}</table>
<p class="small">24-h: mean people per day above (person-days ÷ valid days). Annual: period mean compared with the
annual value — indicative when the period is shorter than a year.</p>
<h2>Disparity (most vs least vulnerable population quintile)</h2><table><tr><th>indicator</th><th>ratio</th>
<th>conc. index</th><th>95 % bootstrap</th></tr>{"".join(disp)}</table>
<h2>Most exposed units</h2><table class="names">
<tr><th>#</th><th>unit</th><th>province</th><th>people</th><th>PM2.5</th></tr>
{top_rows}</table></div></div>
{f"<h2>Warnings</h2><ul>{warn}</ul>" if warn else ""}
<h2>Method</h2><p class="small">{esc(summary.get("method", ""))}</p>
<h2>Sources</h2><ul class="small">{sources}</ul>
<p class="small">Generated by AirAtlas. PM2.5 values are model estimates, not measurements.</p>
</body></html>"""


def scenario_link(base_url: str, query: dict[str, str]) -> str:
    """``base_url?k=v&…`` (values URL-encoded)."""
    from urllib.parse import urlencode

    return f"{base_url.rstrip('/')}/?{urlencode(query)}" if query else base_url


def summary_json(summary: dict) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=1, default=float)
