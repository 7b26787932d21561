"""Who breathes it: exposure inequality across census units ranked by a vulnerability indicator.

All figures are population-weighted (each unit counts with its census population):

- **quintile ratio**: mean exposure of the most vulnerable fifth of the population divided by
  that of the least vulnerable fifth. Units are ordered by the indicator and a unit that
  straddles a quintile boundary is split between the two quintiles in proportion to its people;
- **concentration index** (Wagstaff / Kakwani): ``CI = 2·cov_w(h, r) / mean_w(h)`` with ``h`` the
  exposure and ``r`` the fractional population rank by the indicator (least vulnerable first;
  tied units share their mean rank). CI ∈ (−1, 1); > 0 means exposure is concentrated among
  the more vulnerable, 0 means no gradient (e.g. a uniform surface);
- **interval**: percentile bootstrap over units (resampled with replacement, seeded). It shows
  how much the figure rests on a few units, not the model's uncertainty (that is what the
  lo/hi surfaces are for).
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidRequest

N_QUANTILES = 5
MIN_BOOT = 2  # a percentile interval needs at least two resamples (1000 is the default)


def check_n_boot(n_boot: int) -> int:
    """``n_boot`` if usable, else :class:`InvalidRequest` (never an interval of NaN)."""
    if int(n_boot) < MIN_BOOT:
        raise InvalidRequest(f"--n-boot {n_boot}: the bootstrap needs at least {MIN_BOOT} resamples for an "
                             "interval; use e.g. --n-boot 1000 (the default).")
    return int(n_boot)


def _clean(h, v, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, v, w = (np.asarray(a, float) for a in (h, v, w))
    ok = np.isfinite(h) & np.isfinite(v) & np.isfinite(w) & (w > 0)
    return h[ok], v[ok], w[ok]


def fractional_rank(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Population-weighted fractional rank in (0, 1) of each unit by ``v`` (ascending); ties share one rank."""
    order = np.argsort(v, kind="stable")
    vs, ws = v[order], w[order]
    # one rank per distinct value: midpoint of the value's population block
    uniq, start = np.unique(vs, return_index=True)
    block = np.add.reduceat(ws, start)
    mid = (np.cumsum(block) - block / 2) / ws.sum()
    return mid[np.searchsorted(uniq, v)]


def concentration_index(h, v, w) -> float:
    """Population-weighted concentration index of exposure ``h`` ranked by vulnerability ``v``; weights ``w``."""
    h, v, w = _clean(h, v, w)
    if len(h) < 2:
        return float("nan")
    mu = np.average(h, weights=w)
    if mu == 0:
        return float("nan")
    r = fractional_rank(v, w)
    cov = np.average((h - mu) * (r - np.average(r, weights=w)), weights=w)
    return float(2 * cov / mu)


def quantile_means(h, v, w, n: int = N_QUANTILES) -> np.ndarray:
    """Population-weighted mean exposure in each of ``n`` population quantiles by ``v`` (least vulnerable first)."""
    h, v, w = _clean(h, v, w)
    if len(h) == 0:
        return np.full(n, np.nan)
    order = np.argsort(v, kind="stable")
    hs, ws = h[order], w[order]
    edges = np.concatenate([[0.0], np.cumsum(ws)]) / ws.sum()
    lo, hi = edges[:-1], edges[1:]
    q = np.arange(n)
    share = np.clip(np.minimum(hi[:, None], (q + 1) / n) - np.maximum(lo[:, None], q / n), 0, None)  # (unit, q)
    people = share * ws.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (people * hs[:, None]).sum(0) / people.sum(0)


def quintile_ratio(h, v, w) -> float:
    """Mean exposure of the most vulnerable population quintile / that of the least vulnerable."""
    m = quantile_means(h, v, w)
    return float(m[-1] / m[0]) if m[0] > 0 else float("nan")


def bootstrap(h, v, w, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap (units resampled with replacement) of the ratio and the concentration index."""
    check_n_boot(n_boot)
    h, v, w = _clean(h, v, w)
    a = (1 - level) / 2 * 100
    if len(h) < 2:
        return {"concentration_index_interval": [float("nan")] * 2, "ratio_interval": [float("nan")] * 2,
                "n_boot": n_boot, "seed": seed, "level": level}
    rng = np.random.default_rng(seed)
    ci, ratio = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
    for b in range(n_boot):
        i = rng.integers(0, len(h), len(h))
        ci[b] = concentration_index(h[i], v[i], w[i])
        ratio[b] = quintile_ratio(h[i], v[i], w[i])
    with np.errstate(all="ignore"):
        ci_iv, ratio_iv = np.nanpercentile(ci, [a, 100 - a]), np.nanpercentile(ratio, [a, 100 - a])
    return {
        "concentration_index_interval": [float(x) for x in ci_iv],
        "ratio_interval": [float(x) for x in ratio_iv],
        "n_boot": n_boot, "seed": seed, "level": level,
    }


def disparity(h, v, w, n_boot: int = 1000, seed: int = 0) -> dict:
    """Ratio, concentration index and bootstrap intervals for one exposure vector and one indicator."""
    hq = quantile_means(h, v, w)
    out = {
        "ratio": quintile_ratio(h, v, w),
        "concentration_index": concentration_index(h, v, w),
        "most_vulnerable_quintile_pm25": float(hq[-1]),
        "least_vulnerable_quintile_pm25": float(hq[0]),
    }
    boot = bootstrap(h, v, w, n_boot=n_boot, seed=seed)
    out["interval"] = boot["concentration_index_interval"]
    out["ratio_interval"] = boot["ratio_interval"]
    out["bootstrap"] = {k: boot[k] for k in ("n_boot", "seed", "level")}
    return out
