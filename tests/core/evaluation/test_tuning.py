"""Settings chosen on validation days: MAE pooled over every validation station fold."""

from __future__ import annotations

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.evaluation.runner import evaluate
from core.evaluation.tuning import _val_mae, all_folds, tune_idw


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
