"""Per-station sums in the evaluation report and the station-bootstrap intervals built from them."""

from __future__ import annotations

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.baselines.logok import LogOrdinaryKriging
from core.evaluation.fold_pooling import pool_folds
from core.evaluation.runner import evaluate
from core.evaluation.station_bootstrap import coverage_interval, ratio_interval
from core.intervals import CalibratedKriger, fit_table


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(0)
    pred = rng.uniform(20, 120, 3000)
    table = fit_table("logok", pred, pred * np.exp(rng.normal(0, 0.2, 3000)), rng.uniform(0, 80, 3000),
                      np.full(3000, np.datetime64("2019-01-10")))
    return CalibratedKriger(LogOrdinaryKriging(), table)


@pytest.mark.parametrize("protocol, seeds", [("holdout", None), ("mask-50", 2), ("sparse-30km", None)])
def test_station_sums_add_up_to_the_pooled_metrics(region, calibrated, protocol, seeds):
    """Summed over stations, the per-station sums give the report's MAE, cell count and coverage exactly (a
    station scored by several runs has all its cells), for the model and each baseline."""
    rep = evaluate("logok", protocol, stations=region, seeds=seeds, baselines=("idw",),
                   models={"logok": calibrated, "idw": IDW(2.0)})
    for block, by in ((rep["metrics"], rep["by_station"]), (rep["baselines"]["idw"], rep["baselines"]["idw"]
                                                             ["by_station"])):
        assert set(by) == set(rep["test_stations"])  # every protocol scores S_test
        n = sum(s["n"] for s in by.values())
        assert n == block["n"]
        assert sum(s["abs_err"] for s in by.values()) / n == pytest.approx(block["mae"], rel=1e-6)
    cov = rep["by_station"]
    assert sum(s["inside"] for s in cov.values()) / sum(s["n_interval"] for s in cov.values()) == pytest.approx(
        rep["metrics"]["coverage"], rel=1e-12)
    assert all(s["n_interval"] == 0 for s in rep["baselines"]["idw"]["by_station"].values())  # IDW: no interval


def test_ratio_interval_brackets_the_ratio_and_narrows_with_more_stations():
    rng = np.random.default_rng(3)

    def world(n_st: int) -> tuple[dict, dict]:
        ref = {f"s{i}": {"n": 100, "abs_err": float(100 * rng.uniform(5, 15))} for i in range(n_st)}
        model = {c: {"n": 100, "abs_err": s["abs_err"] * rng.uniform(0.8, 1.0)} for c, s in ref.items()}
        return model, ref

    few, many = ratio_interval(*world(10)), ratio_interval(*world(400))
    for out in (few, many):
        assert out["lo"] <= out["ratio"] <= out["hi"] and 0.8 < out["ratio"] < 1.0
    assert many["hi"] - many["lo"] < (few["hi"] - few["lo"]) / 2
    assert ratio_interval(*world(10), seed=1) != ratio_interval(*world(10), seed=2)  # seeded, recorded
    model, ref = world(20)
    assert ratio_interval(model, ref) == ratio_interval(model, ref)  # same seed, same interval


def test_ratio_interval_is_paired_and_refuses_disjoint_stations():
    """A model 10 % better on every station has a ratio interval of width ~0 however the stations differ
    (pairing); unpaired it would be wide."""
    rng = np.random.default_rng(0)
    ref = {f"s{i}": {"n": 50, "abs_err": float(50 * rng.uniform(2, 40))} for i in range(20)}
    model = {c: {"n": 50, "abs_err": 0.9 * s["abs_err"]} for c, s in ref.items()}
    out = ratio_interval(model, ref)
    assert out["lo"] == pytest.approx(0.9) and out["hi"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="share no scored station"):
        ratio_interval({"a": {"n": 1, "abs_err": 1.0}}, {"b": {"n": 1, "abs_err": 1.0}})


def test_coverage_interval_covers_the_nominal_share_of_a_calibrated_interval():
    """Stations whose cells are each covered with probability 0.9: the 95 % interval holds 0.9 in most worlds."""
    rng = np.random.default_rng(5)
    held = 0
    for _ in range(40):
        by = {f"s{i}": {"n_interval": 300, "inside": int(rng.binomial(300, 0.9))} for i in range(20)}
        out = coverage_interval(by, n_boot=500)
        held += out["lo"] <= 0.9 <= out["hi"]
    assert held >= 34  # ~95 % of 40
    assert coverage_interval({"a": {"n_interval": 0, "inside": 0}}) is None


def test_pooled_folds_keep_every_fold_station_sums(region):
    reps = [evaluate("idw", "holdout", stations=region, split="val", fold=f, baselines=("knn",),
                     models={"idw": IDW(2.0), "knn": KNN()}) for f in (0, 1)]
    pooled = pool_folds(reps)
    assert set(pooled["by_station"]) == set(reps[0]["by_station"]) | set(reps[1]["by_station"])
    assert sum(s["n"] for s in pooled["by_station"].values()) == pooled["metrics"]["n"]
    assert set(pooled["baselines"]["knn"]["by_station"]) == set(pooled["by_station"])


def test_report_intervals_name_what_is_missing():
    """A baseline without per-station sums (it failed, or the report predates them) gets None, the others their
    paired interval; a report without sums gets None throughout."""
    mine = {f"s{i}": {"n": 10, "abs_err": 10.0 + i, "n_interval": 10, "inside": 9} for i in range(5)}
    ref = {c: {"n": 10, "abs_err": 20.0, "n_interval": 0, "inside": 0} for c in mine}
    from core.evaluation.station_bootstrap import report_intervals

    out = report_intervals({"by_station": mine, "baselines": {"idw": {"by_station": ref}, "logok": {"error": "x"}}})
    assert out["ratio_to"]["idw"] == ratio_interval(mine, ref) and out["ratio_to"]["logok"] is None
    assert out["coverage"] == coverage_interval(mine)
    assert report_intervals({"baselines": {}}) == {"ratio_to": {"idw": None, "logok": None}, "coverage": None}
