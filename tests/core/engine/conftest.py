"""Tiny data for engine tests: a short synthetic world (known truth, wind, AOD) over few stations."""

from __future__ import annotations

import numpy as np
import pytest

TINY_HP = {
    "hidden": 8, "n_layers": 1, "tcn_layers": 1, "readout_dim": 4, "target_k": 4, "graph_k": 6,
    "window": 12, "predict": 12, "batch_size": 2, "epochs": 2, "steps_per_epoch": 3, "val_windows": 2,
    "patience": 5, "lr": 5e-3, "train_margin_deg": None,
}


@pytest.fixture(scope="session")
def sim():
    """Simulation over days 19–23 of January (train + validation days), 0.2°, first 40 stations."""
    from core.data.synthetic import SimConfig, simulate

    res = simulate(SimConfig.small(start="2019-01-19T00:00", n_hours=120, res=0.2, seed=3))
    codes = np.sort(res.stations["station"].values)[:40]
    res.stations = res.stations.sel(station=codes)
    return res


@pytest.fixture
def tiny_hp() -> dict:
    return dict(TINY_HP)
