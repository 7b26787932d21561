"""Evaluation reports → tables (dashboard/reports.py), on reports shaped like `python -m core evaluate`'s."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import reports


def report(model: str, protocol: str, mae: float, seeds: list[float], base: dict) -> dict:
    return {"model": model, "dataset": "d", "protocol": protocol, "metrics": {"mae": mae, "rmse": mae * 1.5,
            "r2": 0.8, "bias": 1.0, "n": 10}, "by_season": {"DJF": {"mae": mae + 5}},
            "runs": [{"seed": i, "mae": m} for i, m in enumerate(seeds)], "baselines": base}


@pytest.fixture
def table():
    reps = [
        ("spin_mask-50.json", report("spin", "mask-50", 8.0, [7.0, 9.0],
                                     {"idw": {"mae": 9.5, "runs": [{"mae": 9.0}, {"mae": 10.0}]},
                                      "ok": {"error": "boom"}})),
        ("idw_mask-50.json", report("idw", "mask-50", 9.4, [9.4], {})),
        ("idw_holdout.json", report("idw", "holdout", 8.5, [8.5], {})),
        ("junk.json", {"not": "a report"}),
    ]
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
