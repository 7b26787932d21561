"""Settings chosen on validation days: MAE pooled over every validation station fold."""

from __future__ import annotations

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.evaluation.runner import all_folds, evaluate
from core.evaluation.tuning import _val_mae, tune_idw


@pytest.mark.parametrize("protocol", ["holdout", "mask-50", "sparse-30km"])
def test_validation_mae_is_pooled_over_the_folds_cells(region, protocol) -> None:
    folds = all_folds(region)
    assert len(folds) == 4
    per = [evaluate("idw", protocol, stations=region, split="val", fold=f, baselines=(),
                    models={"idw": IDW(2.0)})["metrics"] for f in folds]
    want = sum(m["mae"] * m["n"] for m in per) / sum(m["n"] for m in per)
    assert _val_mae(IDW(2.0), protocol, region, folds) == pytest.approx(want, rel=1e-12)
    assert _val_mae(IDW(2.0), protocol, region, (0,)) == pytest.approx(per[0]["mae"], rel=1e-12)
    assert len({round(m["mae"], 9) for m in per}) == len(per)  # the folds are different stations


def test_tune_idw_chooses_on_every_fold_and_says_so(region) -> None:
    info = tune_idw(stations=region, protocols=("holdout", "mask-50"), powers=(1.5, 3.0), card=None)
    assert info["val_folds"] == [0, 1, 2, 3]
    for p, row in info["val_mae_by_protocol"].items():
        assert info["power_by_protocol"][p] == float(min(row, key=row.get))
        assert np.isclose(row["3.0"], _val_mae(IDW(3.0), p, region, (0, 1, 2, 3)))


def test_other_set_variant_scores_uci_beijing_pm25_only_on_its_own_folds(shared_data, region) -> None:
    """``holdout:other-set`` ignores the BTH set and folds it is given: UCI Beijing's validation days after
    AQI-36's year, without the other pollutants, every one of its own folds pooled."""
    from core.data.load import load_stationset
    from core.evaluation.tuning import OTHER_SET_DATA, _val_cells

    pred, truth = _val_cells(IDW(2.0), "holdout:other-set", region, (0,))
    uci = load_stationset(dataset=OTHER_SET_DATA[0])
    folds = all_folds(uci)
    assert len(folds) >= 3
    reps = [evaluate("idw", "holdout", stations=uci, split="val", fold=f, period=OTHER_SET_DATA[1], baselines=(),
                     models={"idw": IDW(2.0)}) for f in folds]
    assert (np.isfinite(pred) & np.isfinite(truth)).sum() == sum(r["metrics"]["n"] for r in reps) > 1000
    assert all(r["times"]["start"] >= "2015-05" and r["times"]["end"] < "2017-03" for r in reps)
    stations = sorted(c for r in reps for c in r["val_stations"])
    assert len(stations) == len(set(stations)) == uci.sizes["station"] - len(reps[0]["test_stations"])


@pytest.mark.parametrize("folder_here", [False, True])
def test_run_shipped_names_the_models_folder_unless_a_folder_here_has_that_name(tmp_path, monkeypatch,
                                                                               folder_here) -> None:
    from core.errors import InvalidRequest
    from core.evaluation.tuning import SHIPPED_RUN, resolve_runs

    models = tmp_path / "models"
    (models / "spin").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    other = tmp_path / "runs" / "r1"
    if not folder_here:
        assert resolve_runs([SHIPPED_RUN, other], models) == [models, other]
        return
    (work / SHIPPED_RUN / "spin").mkdir(parents=True)
    with pytest.raises(InvalidRequest, match=r"folder 'shipped' exists here too .*absolute path"):
        resolve_runs([other, SHIPPED_RUN], models)
    # the folder by its absolute path is a run like any other
    assert resolve_runs([work / SHIPPED_RUN], models) == [work / SHIPPED_RUN]
