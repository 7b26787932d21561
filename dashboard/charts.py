"""Pure plotly figure builders (no ``st.*`` calls). Every figure names its units and source."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.layers import AQI_BREAKS, AQI_COLORS, hex_color

MODEL_COLORS = {"spin": "#d62728", "aqnet": "#9467bd", "ignnk": "#8c564b", "idw": "#1f77b4",
                "ok": "#17becf", "knn": "#2ca02c", "linear": "#7f7f7f"}


def _layout(fig: go.Figure, title: str, source: str, y_title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=height, margin={"l": 60, "r": 20, "t": 50, "b": 70},
        yaxis_title=y_title, legend={"orientation": "h", "y": -0.25}, template="plotly_white",
    )
    fig.add_annotation(text=f"Source: {source}", xref="paper", yref="paper", x=0, y=-0.42, showarrow=False,
                       font={"size": 10, "color": "#666"}, xanchor="left")
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
    for b, c in zip(AQI_BREAKS[:3], AQI_COLORS[1:4], strict=True):  # light guides at the lower category limits
        fig.add_hline(y=b, line={"color": hex_color(c), "width": 1, "dash": "dot"})
    fig.update_xaxes(title="time (Beijing, UTC+8)")
    return _layout(fig, title, source, "PM2.5 (µg/m³)")


def metrics_bar(table: pd.DataFrame, source: str) -> go.Figure:
    """MAE per model (µg/m³) on the hidden stations, as bars."""
    fig = go.Figure(go.Bar(x=table["model"], y=table["MAE"],
                           marker_color=[MODEL_COLORS.get(m, "#444") for m in table["model"]],
                           text=[f"{v:.1f}" for v in table["MAE"]], textposition="outside"))
    return _layout(fig, "MAE at hidden stations", source, "MAE (µg/m³)", height=300)


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


def attention_heatmap(weights: np.ndarray, pred_labels, hist_labels, title: str, source: str) -> go.Figure:
    """Temporal attention ``(pred_step, hist_step)`` as a heatmap (weights sum to 1 per prediction step)."""
    fig = go.Figure(go.Heatmap(z=weights, x=[str(h) for h in hist_labels], y=[str(p) for p in pred_labels],
                               colorscale="Viridis", colorbar={"title": "weight (0–1)"}))
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
    return _layout(fig, title, source, "source station", height=420)
