"""Pure plotly figure builders (no ``st.*`` calls). Every figure names its units and source."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.layers import GUIDE_LINES

MODEL_COLORS = {"spin": "#d62728", "aqnet": "#9467bd", "ignnk": "#8c564b", "idw": "#1f77b4",
                "ok": "#17becf", "knn": "#2ca02c", "linear": "#7f7f7f"}


SOURCE_PX_PER_LINE = 13  # 10-px source text plus line spacing
TITLE_PX_PER_LINE = 19


def _units(ch: str) -> int:
    """Width of a character in half-em units: CJK (wide) characters count 2."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap_text(text: str, width_px: float, font_px: float, max_lines: int = 6) -> list[str]:
    """``text`` split at spaces into lines that fit ``width_px`` at ``font_px`` (plotly never wraps titles or
    annotations; an unwrapped line is cut at the figure's edge). A longer text ends in "…"."""
    limit = max(20, int(width_px / (0.56 * font_px)))  # half-em units per line (mean Latin advance ≈ 0.56 em)
    lines, cur, n = [], "", 0
    for word in text.split(" "):
        w = sum(_units(c) for c in word)
        while w > limit:  # a word longer than a line (CJK has no spaces): split it
            cut, acc = 0, 0
            for i, c in enumerate(word):
                if acc + _units(c) > limit - n - (1 if cur else 0):
                    cut = i
                    break
                acc += _units(c)
            if cut == 0:
                lines.append(cur)
                cur, n = "", 0
                continue
            cur, word = (f"{cur} {word[:cut]}" if cur else word[:cut]), word[cut:]
            lines.append(cur)
            cur, n, w = "", 0, sum(_units(c) for c in word)
        if cur and n + 1 + w > limit:
            lines.append(cur)
            cur, n = word, w
        elif cur:
            cur, n = f"{cur} {word}", n + 1 + w
        else:
            cur, n = word, w
    lines.append(cur)
    lines = [ln for ln in lines if ln] or [""]
    if len(lines) > max_lines:
        lines = [*lines[:max_lines - 1], lines[max_lines - 1].rstrip() + " …"]
    return lines


def _layout(fig: go.Figure, title: str, source: str, y_title: str, height: int = 340,
            width_px: float = 900, legend_right: bool = False) -> go.Figure:
    """Title, units, legend and a wrapped source caption below the x-axis title.

    ``width_px``: the width the figure is drawn at (its column), so the caption wraps before the edge.
    ``legend_right``: the legend in a column right of the plot (many series), else one row above the plot
    under the title — never below the plot, where it collided with the x-axis title.
    """
    lines = wrap_text(f"Source: {source}", width_px - 80, 10)
    heads = wrap_text(title, width_px - 40, 15, max_lines=2)
    bottom = 62 + SOURCE_PX_PER_LINE * len(lines)
    legend = ({"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"} if legend_right else
              {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"})
    top = 24 + TITLE_PX_PER_LINE * len(heads) + (0 if legend_right else 28)
    fig.update_layout(
        title={"text": "<br>".join(heads), "font": {"size": 15}, "x": 0.01, "xanchor": "left", "y": 0.99,
               "yanchor": "top", "yref": "container"},
        height=height + SOURCE_PX_PER_LINE * len(lines) + TITLE_PX_PER_LINE * (len(heads) - 1),
        margin={"l": 60, "r": 170 if legend_right else 20, "t": top, "b": bottom},
        yaxis_title=y_title, legend=legend, template="plotly_white",
    )
    # Pixels below the plot area → paper units (plotly places annotations in paper coordinates).
    plot_h = max(fig.layout.height - top - bottom, 50)
    fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=-50 / plot_h,
                       yanchor="top", align="left", showarrow=False, font={"size": 10, "color": "#666"},
                       xanchor="left")
    return fig


def timeseries_figure(times: np.ndarray, observed: np.ndarray | None, predicted: Mapping[str, np.ndarray],
                      title: str, source: str, lo: np.ndarray | None = None, hi: np.ndarray | None = None,
                      band_label: str = "90% interval") -> go.Figure:
    """Hourly PM2.5 (µg/m³): observed (black dots), each model's estimate, optional band for the first model."""
    fig = go.Figure()
    t = pd.to_datetime(times)
    if lo is not None and hi is not None and np.isfinite(lo).any():
        fig.add_trace(go.Scatter(x=t, y=hi, line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=t, y=lo, line={"width": 0}, fill="tonexty", fillcolor="rgba(214,39,40,0.18)",
                                 name=band_label))
    for name, y in predicted.items():
        fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name=f"{name} (inferred)",
                                 line={"color": MODEL_COLORS.get(name, None), "width": 2}))
    if observed is not None and np.isfinite(observed).any():
        fig.add_trace(go.Scatter(x=t, y=observed, mode="markers", name="observed",
                                 marker={"color": "black", "size": 5}))
    add_guides(fig, np.concatenate([np.ravel(a) for a in [observed, hi, *predicted.values()] if a is not None]))
    fig.update_xaxes(title="time (Beijing, UTC+8)")
    return _layout(fig, title, source, "PM2.5 (µg/m³)", height=380, legend_right=True)


def add_guides(fig: go.Figure, values: np.ndarray | None = None) -> go.Figure:
    """Labelled reference lines (WHO 2021, GB 3095-2012 Grade I/II 24-h limits); only those ≤ the data's
    top (+25 %), so a clean day is not squashed under a 75 µg/m³ line."""
    v = np.asarray(values, float) if values is not None else np.array([np.inf])
    top = float(np.nanmax(v)) if np.isfinite(v).any() else np.inf
    for value, label, color in GUIDE_LINES:
        if value <= 1.25 * top:
            fig.add_hline(y=value, line={"color": color, "width": 1, "dash": "dot"}, annotation_text=label,
                          annotation_position="top left", annotation_font={"size": 10, "color": color})
    return fig


def metrics_bar(table: pd.DataFrame, source: str) -> go.Figure:
    """MAE per model (µg/m³) on the hidden stations, as bars."""
    fig = go.Figure(go.Bar(x=table["model"], y=table["MAE"],
                           marker_color=[MODEL_COLORS.get(m, "#444") for m in table["model"]],
                           text=[f"{v:.1f}" for v in table["MAE"]], textposition="outside"))
    return _layout(fig, "MAE at hidden stations", source, "MAE (µg/m³)", height=300, width_px=380)


def robustness_figure(curves: pd.DataFrame, source: str, title: str = "MAE vs share of stations masked") -> go.Figure:
    """``curves`` columns: model, share (0–1), mae, std (spread over seeds; may be NaN)."""
    fig = go.Figure()
    for model, g in curves.sort_values("share").groupby("model", sort=False):
        color = MODEL_COLORS.get(model, None)
        x, y = g["share"] * 100, g["mae"]
        std = g["std"].fillna(0.0) if "std" in g else pd.Series(0.0, index=g.index)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=model, line={"color": color},
                                 error_y={"type": "data", "array": std, "visible": bool((std > 0).any())}))
    fig.update_xaxes(title="stations masked (%)", range=[0, 100])
    return _layout(fig, title, source, "MAE (µg/m³)")


def history_without_data(hist_dates: np.ndarray, days_with_data: Collection[str]) -> np.ndarray:
    """Bool, shaped like ``hist_dates`` (the attention's ``hist_date``: (pred_day, hist_day) datetime64): the history
    day had no data in the dataset (before it begins, or a gap; ``days_with_data`` are ISO dates). The model still
    spread attention there: it read padding."""
    dates = np.asarray(hist_dates, "datetime64[D]").astype(str)
    return ~np.isin(dates, np.asarray(list(days_with_data), dtype=str))


def attention_heatmap(weights: np.ndarray, pred_labels, hist_labels, title: str, source: str,
                      no_data: np.ndarray | None = None) -> go.Figure:
    """Temporal attention ``(pred_step, hist_step)`` as a heatmap (weights sum to 1 per prediction step). Cells of
    ``no_data`` (same shape, :func:`history_without_data`) are left blank: a weight on a day without data
    describes padding, not what the model looked at."""
    z = np.asarray(weights, float)
    if no_data is not None:
        z = np.where(no_data, np.nan, z)
    fig = go.Figure(go.Heatmap(z=z, x=[str(h) for h in hist_labels], y=[str(p) for p in pred_labels],
                               colorscale="Viridis", colorbar={"title": "weight (0–1)"}, hoverongaps=False))
    fig.update_xaxes(title="history step")
    fig.update_yaxes(title="prediction step", autorange="reversed")
    return _layout(fig, title, source, "prediction step", height=420)


def influence_bars(frame: pd.DataFrame, source: str, title: str, single: str | None = None) -> go.Figure:
    """Stacked diffusion / advection share per contributing station, or one bar per station named
    ``single`` (e.g. "knn weight") for a model without that split."""
    fig = go.Figure()
    if single is not None:
        fig.add_trace(go.Bar(y=frame["name"], x=frame["total"], name=single, orientation="h", marker_color="#555"))
    else:
        fig.add_trace(go.Bar(y=frame["name"], x=frame["diffusion"], name="diffusion", orientation="h",
                             marker_color="#3b5bdb"))
        fig.add_trace(go.Bar(y=frame["name"], x=frame["advection"], name="advection", orientation="h",
                             marker_color="#e03131"))
    fig.update_layout(barmode="stack", showlegend=single is None)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="share of the estimate (0–1)")
    return _layout(fig, title, source, "source station", height=420, width_px=380)
