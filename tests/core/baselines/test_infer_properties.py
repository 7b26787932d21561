"""Property-based: every classical model's ``infer`` on random small station sets — duplicates, NaN
patterns, single stations, unlocated stations — never crashes and gives a value wherever inputs exist
(a value or a clear error, never an unexplained NaN). Profile in tests/conftest.py (HYPOTHESIS_PROFILE)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.baselines.linear import LinearNeighbours
from core.baselines.logok import LogOrdinaryKriging
from core.baselines.ok import OrdinaryKriging
from core.contracts.kriger import Window
from core.engine.infer import infer
from core.errors import InvalidRequest
from tests.factories import tiny_stationset

MODELS = {"idw": lambda: IDW(2.0), "knn": lambda: KNN(3), "ok": lambda: OrdinaryKriging(4),
          "logok": lambda: LogOrdinaryKriging(4), "linear": lambda: LinearNeighbours(k=3, min_rows=20)}
N_HOURS = 72  # linear fits on the hours outside the (last 6 h) window


@st.composite
def station_sets(draw):
    """(lat, lon, values (T, S), observed (T, S)) for 1–9 stations around Beijing."""
    n = draw(st.integers(1, 9))
    coord = st.tuples(st.floats(39.0, 40.5), st.floats(115.5, 117.5))
    pts = draw(st.lists(coord, min_size=n, max_size=n))
    for i in range(1, n):  # some stations share a site (co-located monitors, duplicated list rows)
        if draw(st.booleans()) and draw(st.integers(0, 3)) == 0:
            pts[i] = pts[draw(st.integers(0, i - 1))]
    lat, lon = np.array(pts, float).T
    if n > 1 and draw(st.integers(0, 4)) == 0:  # one station without coordinates
        k = draw(st.integers(0, n - 1))
        lat[k] = np.nan if draw(st.booleans()) else lat[k]
        lon[k] = np.nan
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = draw(st.sampled_from([0.0, 5.0, 80.0, 400.0]))
    spread = draw(st.sampled_from([0.0, 1e-6, 10.0, 300.0]))  # 0: a perfectly flat field
    vals = np.abs(base + spread * rng.standard_normal((N_HOURS, n)))
    vals[rng.random(vals.shape) < draw(st.sampled_from([0.0, 0.3, 0.9]))] = np.nan
    pattern = draw(st.sampled_from(["stations", "cells", "one", "all"]))
    if pattern == "stations":
        obs = np.broadcast_to(rng.random(n) < 0.5, (N_HOURS, n)).copy()
    elif pattern == "cells":
        obs = rng.random((N_HOURS, n)) < 0.5
    elif pattern == "one":
        obs = np.zeros((N_HOURS, n), bool)
        obs[:, draw(st.integers(0, n - 1))] = True
    else:
        obs = np.ones((N_HOURS, n), bool)
    return lat, lon, vals, obs


@pytest.mark.parametrize("name", list(MODELS))
@given(case=station_sets())
def test_infer_never_crashes_and_fills_every_hour_with_an_input(name, case) -> None:
    lat, lon, vals, obs = case
    ds = tiny_stationset(vals, lat, lon)
    t = ds["time"].values
    win = Window(t[-6], t[-1])
    located = np.isfinite(lat) & np.isfinite(lon)
    usable = (obs & np.isfinite(vals) & located[None, :])[-6:]  # inputs a model can place, per window hour
    try:
        res = infer(MODELS[name](), ds, obs, None, win)
    except InvalidRequest as err:  # the only allowed refusal: nothing observed in the window
        assert not (obs & np.isfinite(vals))[-6:].any(), err
        return
    pred = res.station_pred.values
    assert pred.shape == (6, len(lat))
    assert not np.isinf(pred).any()
    hours_with_input = usable.any(axis=1)
    got = np.isfinite(pred[:, located])
    assert got[hours_with_input].all(), f"{name}: NaN at a located station in an hour with inputs"
    fin = np.isfinite(pred)
    assert (pred[fin] >= 0).all()
    if name in ("idw", "knn"):  # convex combinations of that hour's inputs
        v = np.where(usable, vals[-6:], np.nan)
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(v, axis=1, initial=np.inf), np.nanmax(v, axis=1, initial=-np.inf)
        rows = hours_with_input
        p = np.where(located[None, :], pred, np.nan)[rows]
        lo_r, hi_r = lo[rows, None], hi[rows, None]
        tol = 1e-3 * (1 + np.abs(hi_r))
        assert (np.where(np.isnan(p), lo_r, p) >= lo_r - tol).all()
        assert (np.where(np.isnan(p), hi_r, p) <= hi_r + tol).all()
