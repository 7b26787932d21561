"""Quality-control flags for hourly PM2.5 series: range, isolated spike, stuck sensor.

Flags are bits of a ``uint8`` array shaped like the data ``(time, station)``; a value can
carry several. Flagged values are *kept* — QC marks, the user (or a model) decides.

=========  =====  ==================================================================
flag       bit    meaning
=========  =====  ==================================================================
RANGE      1      value < 0 or > ``RANGE_MAX`` µg/m³ (e.g. Spring-Festival fireworks)
SPIKE      2      isolated jump: far from the median of its ±``SPIKE_HALF_WINDOW`` h
                  neighbours AND from both adjacent hours, in the same direction
STUCK      4      identical non-NaN value for ≥ ``STUCK_MIN_HOURS`` consecutive hours
=========  =====  ==================================================================
"""

from __future__ import annotations

import numpy as np

RANGE = np.uint8(1)
SPIKE = np.uint8(2)
STUCK = np.uint8(4)
FLAG_NAMES = {int(RANGE): "range", int(SPIKE): "spike", int(STUCK): "stuck"}

RANGE_MAX = 1000.0  # µg/m³; hourly PM2.5 above this is physically possible but exceptional

# Physical ceilings (hourly means, the variable's unit): a value above one is an instrument or
# transmission fault, not air, so loaders set it to NaN (with a warning) instead of flagging it.
# Each sits well above the highest hourly value the BTH network has reported, so no real episode
# is ever cut.
PHYSICAL_MAX = {
    "pm25": 2000.0,  # µg/m³; Spring-Festival fireworks peaks reach ~1,523, dust storms ~1,000
    "pm10": 10000.0,  # µg/m³; dust storms (e.g. March 2021) reach several thousand; analysers top out at 10,000
    "so2": 5000.0,  # µg/m³; winter coal-heating peaks stay below ~2,000
    "no2": 2000.0,  # µg/m³; traffic/industry peaks stay below ~500
    "o3": 1500.0,  # µg/m³; summer photochemical peaks stay below ~500
    "co": 100.0,  # mg/m³; winter peaks stay below ~20
}
SPIKE_HALF_WINDOW = 3  # hours each side used for the local median
SPIKE_K = 6.0  # robust-scale multiples a spike must exceed
SPIKE_MIN_JUMP = 100.0  # µg/m³; absolute floor so clean-air noise is never a "spike"
NEIGHBOUR_SHARE = 0.8  # each adjacent hour must also differ by this share of the threshold
STUCK_MIN_HOURS = 8  # integer-valued CNEMC data repeat 6 h at clean sites legitimately; 8 h rarely


def range_flags(x: np.ndarray, vmax: float = RANGE_MAX) -> np.ndarray:
    """Bool ``(time, station)``: finite values outside ``[0, vmax]``."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & ((x < 0) | (x > vmax))


def nanmedian0(a: np.ndarray) -> np.ndarray:
    """NaN-ignoring median along axis 0 (NaN where all are NaN); sort-based, much faster than np.nanmedian."""
    s = np.sort(a, axis=0)  # NaNs sort last
    n = np.isfinite(s).sum(axis=0)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, a.shape[0] - 1)
    m = 0.5 * (np.take_along_axis(s, lo[None], 0)[0] + np.take_along_axis(s, hi[None], 0)[0])
    return np.where(n > 0, m, np.nan)


def _neighbour_median(x: np.ndarray, half: int) -> np.ndarray:
    """Median of the ``2*half`` hours around each hour, excluding the hour itself (NaN-aware)."""
    n_t = x.shape[0]
    pad = np.full((half,) + x.shape[1:], np.nan)
    xp = np.concatenate([pad, x, pad], axis=0)
    shifts = [xp[half + o : half + o + n_t] for o in range(-half, half + 1) if o != 0]
    return nanmedian0(np.stack(shifts, axis=0))


def spike_flags(
    x: np.ndarray, half: int = SPIKE_HALF_WINDOW, k: float = SPIKE_K, min_jump: float = SPIKE_MIN_JUMP
) -> np.ndarray:
    """Bool ``(time, station)``: isolated jumps.

    A value is a spike when ``|x - m| > max(k * s, min_jump)`` with ``m`` the median of its
    neighbours within ``half`` hours and ``s`` the station's robust scale (1.4826 · MAD of
    ``x - m``), and it also differs from both adjacent hours (where present; at least one must be) by more
    than ``NEIGHBOUR_SHARE`` of that threshold in the same direction — so a genuine step change,
    a ramp or a broad episode peak is not flagged.
    """
    x = np.asarray(x, dtype="float64")
    med = _neighbour_median(x, half)
    resid = x - med
    mad = nanmedian0(np.abs(resid - nanmedian0(resid)))
    scale = np.nan_to_num(1.4826 * mad, nan=0.0)
    thr = np.maximum(k * scale, min_jump)  # (station,)
    prev = np.concatenate([np.full((1,) + x.shape[1:], np.nan), x[:-1]], axis=0)
    nxt = np.concatenate([x[1:], np.full((1,) + x.shape[1:], np.nan)], axis=0)
    with np.errstate(invalid="ignore"):
        big = np.abs(resid) > thr
        sign = np.sign(resid)
        d_prev = (x - prev) * sign
        d_next = (x - nxt) * sign
        # A missing neighbour does not veto, a present one must be far away on the same side too,
        # and at least one must be present (no verdict on a value with no adjacent context).
        ok_prev = np.isnan(prev) | (d_prev > NEIGHBOUR_SHARE * thr)
        ok_next = np.isnan(nxt) | (d_next > NEIGHBOUR_SHARE * thr)
        some = np.isfinite(prev) | np.isfinite(nxt)
    return np.isfinite(x) & big & ok_prev & ok_next & some


def stuck_flags(x: np.ndarray, min_hours: int = STUCK_MIN_HOURS) -> np.ndarray:
    """Bool ``(time, station)``: every hour of a run of ≥ ``min_hours`` identical non-NaN values."""
    x = np.asarray(x, dtype="float64")
    n_t = x.shape[0]
    out = np.zeros(x.shape, bool)
    if n_t == 0:
        return out
    run = np.ones(x.shape[1:], dtype=np.int64)  # length of the current run ending at t
    runs = np.empty(x.shape, dtype=np.int64)
    runs[0] = np.where(np.isfinite(x[0]), 1, 0)
    for t in range(1, n_t):
        same = (x[t] == x[t - 1]) & np.isfinite(x[t])
        run = np.where(same, run + 1, np.where(np.isfinite(x[t]), 1, 0))
        runs[t] = run
    # Walk backwards carrying the final length of the run each hour belongs to.
    final = runs[-1].copy()
    out[-1] = (runs[-1] > 0) & (final >= min_hours)
    for t in range(n_t - 2, -1, -1):
        continues = (runs[t] > 0) & (runs[t + 1] == runs[t] + 1)
        final = np.where(continues, final, runs[t])
        out[t] = (runs[t] > 0) & (final >= min_hours)
    return out


def qc_pm25(pm25: np.ndarray) -> np.ndarray:
    """QC flags for PM2.5 ``(time, station)`` in µg/m³ → ``uint8 (time, station)`` (bits above)."""
    x = np.asarray(pm25, dtype="float64")
    if x.ndim == 1:
        return qc_pm25(x[:, None])[:, 0]
    flags = np.zeros(x.shape, np.uint8)
    flags[range_flags(x)] |= RANGE
    flags[spike_flags(x)] |= SPIKE
    flags[stuck_flags(x)] |= STUCK
    return flags


def describe(flags: np.ndarray) -> dict[str, int]:
    """Counts of each flag in ``flags`` (for reports)."""
    f = np.asarray(flags, np.uint8)
    return {name: int(((f & bit) > 0).sum()) for bit, name in FLAG_NAMES.items()}
