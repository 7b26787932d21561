"""Shared by the station-source tests: what a loader warned about, as text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import xarray as xr

from core.contracts.stationset import load_warnings


@pytest.fixture
def warning_texts() -> Callable[[xr.Dataset], list[str]]:
    """``file:line: message`` of each warning a loader recorded in a StationSet, in order."""
    return lambda ds: [str(w) for w in load_warnings(ds)]
