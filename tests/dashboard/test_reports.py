"""Evaluation reports → tables (dashboard/reports.py), on reports shaped like `python -m core evaluate`'s."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import reports


def report(model: str, protocol: str, mae: float, seeds: list[float], base: dict, split: str = "test",
           dataset: str = "d") -> dict:
    return {"model": model, "dataset": dataset, "protocol": protocol, "split": split,
            "metrics": {"mae": mae, "rmse": mae * 1.5,
            "r2": 0.8, "bias": 1.0, "n": 10}, "by_season": {"DJF": {"mae": mae + 5}},
            "runs": [{"seed": i, "mae": m} for i, m in enumerate(seeds)], "baselines": base}


@pytest.fixture
def reps():
    return [
        ("spin_mask-50.json", report("spin", "mask-50", 8.0, [7.0, 9.0],
                                     {"idw": {"mae": 9.5, "runs": [{"mae": 9.0}, {"mae": 10.0}]},
                                      "ok": {"error": "boom"}})),
        ("idw_mask-50.json", report("idw", "mask-50", 9.4, [9.4], {})),
        ("idw_holdout.json", report("idw", "holdout", 8.5, [8.5], {})),
        ("junk.json", {"not": "a report"}),
        # validation reports: other stations, other days; linear appears only here
        ("val_spin_sparse-30km.json", report("spin", "sparse-30km", 19.0, [19.0], {"linear": {"mae": 25.0}},
                                             split="val")),
        ("val_spin_mask-50.json", report("spin", "mask-50", 11.0, [11.0], {"idw": {"mae": 12.0}}, split="val")),
        ("no_split.json", {k: v for k, v in report("knn", "holdout", 9.9, [9.9], {}).items() if k != "split"}),
        ("path_x_spin_holdout.json", report("spin", "holdout", 14.0, [14.0], {}, dataset="/data/raw/aqi36_stmvl/")),
    ]
    return reps


@pytest.fixture
def table(reps):
    return reports.long_table(reps)


def test_long_table_prefers_the_models_own_report_and_skips_errors(table) -> None:
    m50 = table[table["protocol"] == "mask-50"].set_index("model")
    assert set(m50.index) == {"spin", "idw"}  # ok errored: left out
    assert m50.loc["idw", "mae"] == 9.4 and m50.loc["idw", "file"] == "idw_mask-50.json"
    assert m50.loc["spin", "std"] == pytest.approx(np.std([7.0, 9.0], ddof=1))


def test_curves_and_season_tables(table) -> None:
    cur = reports.curves(table)
    assert set(cur["share"]) == {0.5} and set(cur["model"]) == {"spin", "idw"}
    seasons = reports.season_table(table, "holdout")
    assert seasons.loc[0, "DJF"] == 13.5 and seasons.loc[0, "all"] == 8.5
    assert reports.protocol_table(table, "sparse-30km").empty


def test_a_test_table_never_takes_a_validation_figure(table, reps) -> None:
    """linear was scored only on validation days (a baseline of a val report): it stays out of the test tables, and
    spin's test figure is not replaced by its validation one; a report that does not say its split is left out."""
    assert "linear" not in set(table["model"]) and "knn" not in set(table["model"])
    assert set(table.loc[table["model"] == "spin", "mae"]) == {8.0, 14.0}
    val = reports.long_table(reps, split="val")
    assert set(val["file"]) == {"val_spin_sparse-30km.json", "val_spin_mask-50.json"}
    assert val.set_index(["protocol", "model"]).loc[("sparse-30km", "linear"), "mae"] == 25.0


def test_a_report_on_a_path_is_named_by_its_folder(table) -> None:
    assert set(table["dataset"]) == {"d", "aqi36_stmvl"}
