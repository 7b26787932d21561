"""QC flags on hand-made PM2.5 series: each flag fires where it should and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.qc import RANGE, SPIKE, STUCK, describe, nanmedian0, qc_pm25, spike_flags, stuck_flags


def _smooth(n: int = 48, seed: int = 0) -> np.ndarray:
    """A plausible diurnal PM2.5 series (µg/m³) with noise and no repeated values."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 60 + 25 * np.sin(2 * np.pi * t / 24) + rng.uniform(-3, 3, n) + t * 1e-3


def test_clean_series_has_no_flags() -> None:
    assert not qc_pm25(_smooth()).any()


@pytest.mark.parametrize(("value", "flagged"), [(-1.0, True), (0.0, False), (999.0, False), (1000.0, False),
                                                 (1001.0, True), (1523.0, True)])
def test_range_flag(value: float, flagged: bool) -> None:
    x = _smooth()
    x[10] = value
    assert bool(qc_pm25(x)[10] & RANGE) is flagged
    assert not (qc_pm25(x) & RANGE)[np.arange(48) != 10].any()


@pytest.mark.parametrize("jump", [150.0, 400.0, -55.0])
def test_isolated_spike_is_flagged(jump: float) -> None:
    x = _smooth()
    x[20] += jump
    if jump < 0:  # a dip must be far too: 60+-25 floor minus 55 is not > 100 from neighbours
        assert not spike_flags(x[:, None])[20, 0]
    else:
        flags = qc_pm25(x)
        assert flags[20] & SPIKE and not (flags & SPIKE)[np.arange(48) != 20].any()


@pytest.mark.parametrize("shape", ["step", "ramp", "plateau3"])
def test_real_changes_are_not_spikes(shape: str) -> None:
    x = _smooth()
    if shape == "step":  # a front arrives: level jumps and stays
        x[20:] += 300
    elif shape == "ramp":  # an episode builds up fast but smoothly
        x[20:30] += np.linspace(0, 400, 10)
        x[30:] += 400
    else:  # a three-hour plume passage
        x[20:23] += 250
    assert not spike_flags(x[:, None]).any()


def test_spike_scale_adapts_per_station() -> None:
    """On a very noisy station the same jump is within its normal variability."""
    rng = np.random.default_rng(3)
    quiet, noisy = _smooth(200), 150 + rng.normal(0, 60, 200)
    x = np.stack([quiet, noisy], axis=1)
    x[100] += 160
    f = spike_flags(x)
    assert f[100, 0] and not f[100, 1]


def test_spike_needs_adjacent_context_and_tolerates_one_gap() -> None:
    x = _smooth()
    x[20] += 300
    x[19] = np.nan  # one missing neighbour: still a spike
    assert spike_flags(x[:, None])[20, 0]
    x[21] = np.nan  # no adjacent hour at all: no verdict
    assert not spike_flags(x[:, None])[20, 0]


@pytest.mark.parametrize(("run", "min_hours", "flagged"), [(8, 8, True), (7, 8, False), (6, 6, True), (12, 8, True)])
def test_stuck_flag_covers_the_whole_run(run: int, min_hours: int, flagged: bool) -> None:
    x = _smooth()
    x[10 : 10 + run] = 42.0
    f = stuck_flags(x[:, None], min_hours)[:, 0]
    assert bool(f[10 : 10 + run].all()) is flagged and bool(f.any()) is flagged
    assert not f[:10].any() and not f[10 + run :].any()


def test_nan_breaks_a_stuck_run() -> None:
    x = _smooth()
    x[10:15] = 42.0
    x[15] = np.nan
    x[16:20] = 42.0
    assert not stuck_flags(x[:, None], 8).any()


def test_stuck_run_at_series_end_and_start() -> None:
    x = _smooth(30)
    x[:9] = 5.0
    x[-9:] = 7.0
    f = qc_pm25(x)
    assert (f[:9] & STUCK).all() and (f[-9:] & STUCK).all() and not (f[9:-9] & STUCK).any()


def test_flags_combine_as_bits_and_shapes_are_kept() -> None:
    x = np.stack([_smooth(), _smooth(seed=1)], axis=1)
    x[5:15, 1] = 1200.0  # fireworks stuck at one value: RANGE and STUCK
    f = qc_pm25(x)
    assert f.shape == x.shape and f.dtype == np.uint8
    assert ((f[5:15, 1] & RANGE) > 0).all() and ((f[5:15, 1] & STUCK) > 0).all()
    assert describe(f)["range"] == 10 and describe(f)["stuck"] == 10
    assert not f[:, 0].any()


def test_all_nan_is_unflagged() -> None:
    assert not qc_pm25(np.full((24, 3), np.nan)).any()


def test_nanmedian0_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 40, 3))
    a[rng.random(a.shape) < 0.4] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        ref = np.nanmedian(a, axis=0)
    np.testing.assert_allclose(nanmedian0(a), ref, equal_nan=True)
