import numpy as np

from core.baselines.logok import LogOrdinaryKriging
from core.evaluation.runner import evaluate
from core.intervals import CalibratedKriger, fit_table


def test_calibrated_and_own_interval_are_both_reported(region):
    rng = np.random.default_rng(0)
    pred = rng.uniform(20, 120, 3000)
    truth = pred * np.exp(rng.normal(0, 0.2, 3000))
    table = fit_table("logok", pred, truth, rng.uniform(0, 80, 3000), np.full(3000, np.datetime64("2019-01-10")))
    model = CalibratedKriger(LogOrdinaryKriging(), table)
    rep = evaluate("logok", "holdout", stations=region, baselines=(), models={"logok": model})
    m = rep["metrics"]
    assert m["level"] == 0.9 and 0 < m["coverage"] <= 1 and m["interval_width"] > 0
    assert 0 < m["own_interval"]["coverage"] <= 1 and m["own_interval"]["level"] == 0.9
    assert rep["runs"][0]["coverage"] == m["coverage"]  # one run: the same cells
    assert rep["by_season"]["DJF"]["coverage"] == m["coverage"]


def test_report_sets_the_own_interval_under_the_calibrated_one(region, tmp_path):
    import json

    from core.evaluation.report import protocol_table

    rng = np.random.default_rng(1)
    pred = rng.uniform(20, 120, 3000)
    table = fit_table("logok", pred, pred * np.exp(rng.normal(0, 0.2, 3000)), rng.uniform(0, 80, 3000),
                      np.full(3000, np.datetime64("2019-01-10")))
    rep = evaluate("logok", "holdout", stations=region, baselines=(),
                   models={"logok": CalibratedKriger(LogOrdinaryKriging(), table)})
    rep = json.loads(json.dumps(rep))  # as report reads it back from disk
    md = protocol_table([rep], "holdout")
    own = rep["metrics"]["own_interval"]
    row = next(line for line in md.splitlines() if "own interval" in line)
    assert row.startswith("| logok, own interval (uncalibrated) |")
    assert f"{own['coverage']:.3f} ({own['interval_width']:.1f})" in row
