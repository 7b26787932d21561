"""Validation reports of several station folds pooled into one: the figures of the union of their cells."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.evaluation.fold_pooling import pool_folds, pool_validation
from core.evaluation.runner import all_folds, evaluate
from core.evaluation.tuning import _val_cells
from core.intervals import CalibratedKriger, fit_table


@pytest.fixture(scope="module")
def calibrated_idw() -> CalibratedKriger:
    rng = np.random.default_rng(0)
    pred = rng.uniform(20, 100, 2000)
    table = fit_table("idw", pred, pred * np.exp(rng.normal(0, 0.2, 2000)), rng.uniform(0, 60, 2000),
                      np.full(2000, np.datetime64("2019-01-05")))
    return CalibratedKriger(IDW(2.0), table)


def _fold_reports(region, protocol: str, model) -> list[dict]:
    return [evaluate("idw", protocol, stations=region, split="val", fold=f, models={"idw": model, "knn": KNN()},
                     baselines=("knn",)) for f in all_folds(region)]


@pytest.mark.parametrize("protocol", ["holdout", "sparse-30km"])
def test_pooled_report_equals_scoring_every_folds_cells_at_once(region, calibrated_idw, protocol) -> None:
    reports = _fold_reports(region, protocol, calibrated_idw)
    pooled = pool_folds(reports)
    pred, truth = _val_cells(IDW(2.0), protocol, region, all_folds(region))  # the tuner's own path
    ok = np.isfinite(pred) & np.isfinite(truth)
    err = pred[ok].astype(float) - truth[ok].astype(float)
    m = pooled["metrics"]
    assert m["n"] == ok.sum()
    assert m["mae"] == pytest.approx(np.abs(err).mean(), rel=1e-9)
    assert m["rmse"] == pytest.approx(np.sqrt((err ** 2).mean()), rel=1e-9)
    assert m["bias"] == pytest.approx(err.mean(), rel=1e-9, abs=1e-9)
    assert "r2" not in m  # not poolable from the reports
    assert min(r["metrics"]["coverage"] for r in reports) <= m["coverage"] <= max(r["metrics"]["coverage"]
                                                                                 for r in reports)
    assert m["level"] == 0.9
    knn = pooled["baselines"]["knn"]
    want = sum(r["baselines"]["knn"]["mae"] * r["baselines"]["knn"]["n"] for r in reports) / knn["n"]
    assert knn["mae"] == pytest.approx(want, rel=1e-12)
    assert pooled["val_fold"] == [0, 1, 2, 3]
    assert len(pooled["val_stations"]) == len(set(pooled["val_stations"])) == sum(
        len(r["val_stations"]) for r in reports)
    assert pooled["test_stations"] == reports[0]["test_stations"]
    assert len(pooled["runs"]) == sum(len(r["runs"]) for r in reports)
    seasons = pooled["by_season"]
    assert sum(s["n"] for s in seasons.values()) == m["n"]


def test_pooling_refuses_what_would_count_cells_twice_or_mix_reports(region) -> None:
    reports = _fold_reports(region, "holdout", IDW(2.0))
    with pytest.raises(ValueError, match="one report per validation fold"):
        pool_folds([reports[0], reports[0]])
    other = evaluate("knn", "holdout", stations=region, split="val", fold=1, baselines=())
    with pytest.raises(ValueError, match="different models"):
        pool_folds([reports[0], other])
    assert pool_folds(reports[:1]) is reports[0]


def test_the_report_and_the_default_model_read_every_fold(region, tmp_path) -> None:
    from core.evaluation.report import render
    from core.evaluation.selection import ranking_on_validation

    reports = _fold_reports(region, "mask-50", IDW(2.0))
    for r in reports:
        (tmp_path / f"val_idw_mask-50_fold{r['val_fold']}.json").write_text(json.dumps(r))
    pooled = pool_validation(reports)
    assert len(pooled) == 1
    md = render(tmp_path)
    part = md.split("Validation days, mask-50")[1].split("####")[0]
    assert "folds 0, 1, 2, 3 each hidden and scored in turn" in part
    assert f"| idw | {pooled[0]['metrics']['mae']:.2f} |" in part
    assert f"| knn | {pooled[0]['baselines']['knn']['mae']:.2f} |" in part
    want = "idw" if pooled[0]["metrics"]["mae"] < pooled[0]["baselines"]["knn"]["mae"] else "knn"
    assert ranking_on_validation(tmp_path)[0] == want
    note = md.split("Dashboard default model")[1].split("\n")[0]
    assert f"`{want}`" in note and "folds 0, 1, 2, 3 each hidden and scored in turn" in note
