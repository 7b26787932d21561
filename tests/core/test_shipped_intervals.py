"""Every shipped model must serve a calibrated interval: a retrained checkpoint without a fresh
calibration would silently lose its interval (load_table warns and returns None)."""

import warnings

import pytest

from core.contracts.registry import available
from core.intervals import load_table


@pytest.mark.parametrize("name", available())
def test_shipped_calibration_matches_the_shipped_model(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stale table warns: that is a failure here
        table = load_table(name)
    assert table is not None, f"no interval calibration for '{name}': run python -m core calibrate --model {name}"
    assert table.level == 0.9 and table.meta.get("split", "").startswith("val")
    assert (table.q_lo <= 0).all() and (table.q_hi >= 0).all()
