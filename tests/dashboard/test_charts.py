"""Figure builders: the legend clear of the axis title, labelled guide lines, wrapped source captions and titles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from dashboard.layers import GUIDE_LINES

LONG_SOURCE = ("CNEMC real-time national air quality release, archived daily by quotsoft.net · estimates by "
               "AirAtlas models (spin, idw, ok, knn, linear) on the stations left observed")


def _ts(peak: float, title: str = "北戴河环保局 (秦皇岛, 1042A): hidden — observed vs inferred"):
    t = pd.date_range("2019-01-12", periods=24, freq="h")
    y = np.linspace(5, peak, 24)
    preds = {m: y * f for m, f in (("spin", 1.0), ("idw", 0.9), ("ok", 1.1), ("knn", 1.2), ("linear", 0.8))}
    return charts.timeseries_figure(t, y, preds, title, LONG_SOURCE, lo=y * 0.8, hi=y * 1.2)


def _annotations(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_timeseries_legend_sits_right_of_the_plot_not_on_the_axis_title():
    fig = _ts(120)
    leg = fig.layout.legend
    assert leg.orientation == "v" and leg.x >= 1.0 and leg.xanchor == "left"
    assert fig.layout.margin.r >= 150  # room for "linear (inferred)" without covering the plot
    assert fig.layout.xaxis.title.text == "time (Beijing, UTC+8)"


@pytest.mark.parametrize(("peak", "labels"), [
    (120, [g[1] for g in GUIDE_LINES]),  # all three limits below the data's top
    (20, [GUIDE_LINES[0][1]]),  # a clean day: only the WHO line, not a flat series under 75
])
def test_guide_lines_are_labelled_with_their_standard(peak, labels):
    fig = _ts(peak)
    texts = _annotations(fig)
    assert [t for t in texts if "µg/m³" in t and not t.startswith("Source")] == labels
    assert len([s for s in fig.layout.shapes if s.type == "line"]) == len(labels)
    assert "GB 3095 Grade II 75 µg/m³" in {g[1] for g in GUIDE_LINES} and "WHO 2021 24-h guideline 15 µg/m³" in {
        g[1] for g in GUIDE_LINES}


@pytest.mark.parametrize(("fig_of", "width_px"), [
    (lambda: _ts(120), 900),
    (lambda: charts.metrics_bar(pd.DataFrame({"model": ["spin", "idw"], "MAE": [8.0, 9.0]}), LONG_SOURCE), 380),
])
def test_source_caption_wraps_inside_the_figure(fig_of, width_px):
    fig = fig_of()
    src = next(t for t in _annotations(fig) if t.startswith("Source:"))
    lines = src.split("<br>")
    assert len(lines) >= 2 and " ".join(lines) == f"Source: {LONG_SOURCE}"  # nothing lost, only wrapped
    limit = (width_px - 80) / (0.56 * 10)
    assert all(sum(charts._units(c) for c in ln) <= limit for ln in lines)
    assert fig.layout.margin.b >= 62 + charts.SOURCE_PX_PER_LINE * len(lines)  # room below for every line


@pytest.mark.parametrize(("text", "width", "font", "max_lines"), [
    (LONG_SOURCE, 300, 10, 6),
    ("hotspot 1 (承德 丰宁满族自治县, 秦皇岛 青龙满族自治县, 承德 平泉市, 承德 兴隆县): grid cell 39.08°N 116.33°E",
     500, 15, 2),
    ("北戴河环保局" * 12, 300, 15, 3),  # CJK without spaces
])
def test_wrap_text_fits_and_keeps_the_words(text, width, font, max_lines):
    lines = charts.wrap_text(text, width, font, max_lines)
    limit = max(20, int(width / (0.56 * font)))
    assert 1 <= len(lines) <= max_lines
    assert all(sum(charts._units(c) for c in ln.removesuffix(" …")) <= limit for ln in lines)
    joined = "".join(ln.removesuffix(" …") for ln in lines).replace(" ", "")
    assert text.replace(" ", "").startswith(joined)


@pytest.mark.parametrize("first_day", ["2019-01-01", "2019-01-03"])
def test_attention_on_days_without_data_is_left_blank(first_day) -> None:
    """Prediction days Jan 2 and 3 over 3 history days; the data begin on ``first_day`` and Jan 1 is also missing
    when they begin later: those history cells are blank (NaN), the rest keep their weights."""
    pred = np.array(["2019-01-02", "2019-01-03"], "datetime64[D]")
    hist_dates = pred[:, None] + np.arange(-3, 0)[None, :].astype("timedelta64[D]")
    days = [str(d) for d in np.arange(np.datetime64(first_day), np.datetime64("2019-01-04"))]
    no_data = charts.history_without_data(hist_dates.astype("datetime64[ns]"), days)
    want = hist_dates < np.datetime64(first_day)
    assert no_data.tolist() == want.tolist()
    w = np.full((2, 3), 1 / 3)
    fig = charts.attention_heatmap(w, ["2019-01-02", "2019-01-03"], ["-3 d", "-2 d", "-1 d"], "t", "s",
                                   no_data=no_data)
    z = np.array(fig.data[0].z, float)
    assert np.isnan(z[want]).all() and np.allclose(z[~want], 1 / 3)
    assert np.array_equal(np.array(charts.attention_heatmap(w, ["a", "b"], ["x", "y", "z"], "t", "s").data[0].z), w)
