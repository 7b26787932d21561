"""Calibrated prediction intervals for every model: normalized split conformal on validation days.

Any Kriger's point estimate ``ŷ`` becomes ``[lo, hi]`` at a stated level (default 90 %) by
:class:`CalibratedKriger`, a wrapper that keeps the Kriger contract. The interval is multiplicative
(PM2.5 errors scale with the level): with ``r = log1p(y) − log1p(ŷ)`` and a local error scale ``σ``,

    lo = expm1(log1p(ŷ) + q_lo · σ),   hi = expm1(log1p(ŷ) + q_hi · σ)

where ``q_lo``/``q_hi`` are the conformal ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of the
normalized score ``r / σ`` (one pair for every distance unless it misses a distance band, :func:`choose_bands`)
measured on *validation days at hidden non-test stations* (:mod:`core.evaluation.calibrate` fits them;
``S_test`` never takes part). ``σ`` is a log-linear model
of ``|r|`` in what drives the error (:data:`SCALE_TERMS`):

- the distance to the nearest and to the third-nearest station observed that hour (an isolated target
  is less certain; a gap ringed by monitors less so than a lone far target) — coefficients kept ≥ 0,
  so an interval never narrows as monitors get farther;
- the predicted level, in log1p and its square (relative errors are larger in clean air, and flatten
  out in haze);
- the spread of log PM2.5 among the :data:`SPREAD_K` nearest observed stations (scale-free: the
  interval widens where the field is patchy that hour, which is what transfers to other periods and
  station sets);
- the season.

Choices made on validation days (spin's and logok's calibration cells, fitted without one fold in five of
the stations and on the other months, scored on the held-out S_val cells of each protocol; the pooled-pair,
band and transfer figures are spin's before its kriging init went to 16 neighbours, ``scripts/interval_choices.py``):
- a scale model rather than Mondrian bins (distance × level × season, the first table): 6–7 % narrower on
  holdout and mask-50, 17 % on sparse-30km at the same coverage;
- the squared level term: 3–5 % narrower on every protocol at ±0.5 point of coverage;
- one pooled quantile pair for every distance (:func:`choose_bands`), not one per nearest-distance band
  (< / ≥ 20 km, the 2026-12-02 morning tables), nor finer isolation bands (10 / 30 km, or 0 / 1–2 / 3+ stations
  observed within 30 km), nor a within-30 km count term. Cross-fitted on held-out months × stations (spin,
  holdout / mask-50 / mask-90 / sparse-30km): bands 0.882 / 0.891 / 0.896 / 0.903, pooled 0.890 / 0.896 /
  0.889 / 0.891 (width −4.5 % on sparse-30km, +2.7 % on holdout); 10 / 30 km bands 0.874 … 0.916; the count
  bands and term moved nothing beyond ±0.3 point. logok and aqnet agree (bands 0.882…0.901 and 0.876…0.899,
  pooled 0.887…0.892 and 0.883…0.887). Far-band quantiles are set by a few isolated stations with heavy tails
  and over-cover the isolated targets of stations they did not see. On other station sets (cnemc_china_2019
  outside the BTH file: Yangtze delta, Pearl delta, Sichuan–Chongqing; validation days), the pooled pair
  shrank spin's sparse-30km − holdout coverage gap from +5.2 / +8.1 / +10.2 points to +3.7 / +6.4 / +7.4;
- no transfer term for other periods and station sets: with the BTH table, spin's coverage there was 0.915
  (UCI Beijing 2013–17 without May 2014 – Apr 2015, held-out stations), 0.897 / 0.906 / 0.859 (the three
  regions); logok 0.915 / 0.945 / 0.940 / 0.919. One widening (or narrowing) factor fitted on three of those
  sets and checked on the fourth did not bring the fourth closer to 90 % for spin (mean |coverage − 0.9|
  0.016 → 0.023); the shift is set-specific, not a common term;
- no hour-of-day, distance², distance × level or distance × spread terms, and no location (bias) term: each
  changed width by ≤ 1 % at equal coverage, or narrowed by 2–4 % while losing 1 point of coverage.
The quantile level is raised by the coverage the fit loses on validation months *and stations* it did
not see (:func:`held_out_coverage`, about half a point), because the shipped interval serves other
days, periods and station sets. The fitted :class:`IntervalTable` ships as
``assets/models/<name>/intervals.json`` with a fingerprint of the checkpoint/card it was fitted for;
:func:`load_table` refuses a stale one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.seasons import SEASONS, season_index
from core.geo import haversine_km, haversine_pairs_km
from core.paths import MODELS_DIR

DEFAULT_LEVEL = 0.9
DIST_EDGES_KM = (2.0, 5.0, 10.0, 20.0, 35.0, 60.0)  # nearest observed station: bands the counts report
SPREAD_K = 6  # nearest observed stations whose log-PM2.5 spread scales the interval
SPREAD_FLOOR = 0.05  # log units: keeps log(spread) finite where neighbours agree exactly
ABS_FLOOR = 0.02  # log units: |r| floor of the scale regression (a perfect hit is not zero error)
FAR_KM = 500.0  # distance used where fewer than three stations are observed
N_CANDIDATES = 16  # nearest stations searched first for the nearest observed ones
TABLE_FILE = "intervals.json"
BAND_EDGES_KM = (20.0,)  # nearest-observed bands the score quantiles take when one pooled pair misses a band
BAND_TOL = 0.03  # held-out coverage of a band this far from the level (either way) makes the quantiles per band
LEGACY_BAND_EDGES_KM = (20.0,)  # what a table without ``band_edges`` and two quantile pairs was fitted with
MIN_COUNT = 300  # calibration cells a band needs before it stops borrowing the pooled quantiles
SCALE_TERMS = ("const", "log1p_near_km", "log1p_third_km", "log1p_pred", "log1p_pred_sq", "log_spread",
               "MAM", "JJA", "SON")
_MONOTONE = (1, 2)  # columns of SCALE_TERMS whose coefficient must stay ≥ 0 (distance terms)


def fingerprint(name: str, root: Path | None = None) -> str:
    """sha256 over the files that define a shipped model (``model.pt``, ``card.json``); "" for none."""
    folder = (root or MODELS_DIR) / name
    h = hashlib.sha256()
    found = False
    for f in ("model.pt", "card.json"):
        p = folder / f
        if p.is_file():
            h.update(f.encode())
            h.update(p.read_bytes())
            found = True
    return h.hexdigest() if found else ""


@dataclass
class Neighbourhood:
    """What the interval conditions on at (T, N) target-hours: km to the nearest and third-nearest
    observed station, and the std of log1p(PM2.5) over the :data:`SPREAD_K` nearest observed ones."""

    near_km: np.ndarray
    third_km: np.ndarray
    spread: np.ndarray


def _columns(pred: np.ndarray, near_km: np.ndarray, third_km: np.ndarray, spread: np.ndarray,
             times: np.ndarray) -> list[np.ndarray]:
    """The :data:`SCALE_TERMS` columns (float32, shaped like ``pred``); ``times`` has the leading shape."""
    pred = np.nan_to_num(np.asarray(pred, "float32"), nan=0.0)
    near = np.minimum(np.nan_to_num(np.asarray(near_km, "float32"), nan=FAR_KM, posinf=FAR_KM), FAR_KM)
    third = np.minimum(np.nan_to_num(np.asarray(third_km, "float32"), nan=FAR_KM, posinf=FAR_KM), FAR_KM)
    third = np.maximum(third, near)
    sp = np.nan_to_num(np.asarray(spread, "float32"), nan=0.0)
    s = season_index(np.asarray(times).ravel()).reshape(np.shape(times))
    s = np.broadcast_to(s.reshape(s.shape + (1,) * (pred.ndim - s.ndim)), pred.shape)
    lp = np.log1p(np.maximum(pred, 0.0))
    return [np.ones_like(pred), np.log1p(near), np.log1p(third), lp, lp * lp,
            np.log(sp + SPREAD_FLOOR)] + [(s == i).astype("float32") for i in (1, 2, 3)]


def design(pred: np.ndarray, near_km: np.ndarray, third_km: np.ndarray, spread: np.ndarray,
           times: np.ndarray) -> np.ndarray:
    """(..., len(SCALE_TERMS)) design of the scale model for predictions ``pred`` (µg/m³) shaped like
    ``near_km``/``third_km`` (km) and ``spread`` (log units); ``times`` has the leading shape."""
    return np.stack(_columns(pred, near_km, third_km, spread, times), axis=-1)


def _finite32(x: np.ndarray, nan: float, posinf: float | None = None) -> np.ndarray:
    """``np.nan_to_num(np.asarray(x, "float32"), nan=nan, posinf=posinf)``, with one isfinite pass when every value
    is finite (the usual case): nan_to_num's three masks and copies were a third of a map's bound cost. The
    result may be ``x`` itself: callers do not write into it."""
    a = np.asarray(x, "float32")
    return a if np.isfinite(a).all() else np.nan_to_num(a, nan=nan, posinf=posinf)


@dataclass
class IntervalTable:
    """Conformal quantiles ``q_lo``/``q_hi`` (B,) of ``r / σ`` per nearest-distance band (``band_edges``, km;
    ``()``: B = 1, one pooled pair) and the scale model ``σ = exp(X · scale_coef)``.

    ``counts``: calibration cells per nearest-observed distance band (``dist_edges``), for the record.
    ``ref_spread``: median neighbour spread of the calibration cells (used when a caller gives none).
    """

    model: str
    level: float
    q_lo: np.ndarray
    q_hi: np.ndarray
    counts: np.ndarray
    scale_coef: np.ndarray = field(default_factory=lambda: np.zeros(len(SCALE_TERMS)))
    scale_terms: tuple[str, ...] = SCALE_TERMS
    ref_spread: float = 0.3
    dist_edges: tuple[float, ...] = DIST_EDGES_KM
    band_edges: tuple[float, ...] = ()
    fingerprint: str = ""
    meta: dict = field(default_factory=dict)

    def scale(self, pred: np.ndarray, near_km: np.ndarray, times: np.ndarray, third_km: np.ndarray | None = None,
              spread: np.ndarray | None = None) -> np.ndarray:
        """σ (log units) for (T, N) predictions (µg/m³) at ``times`` (T,)."""
        return np.exp(self._log_scale(pred, near_km, times, third_km, spread))

    def _log_scale(self, pred: np.ndarray, near_km: np.ndarray, times: np.ndarray, third_km: np.ndarray | None,
                   spread: np.ndarray | None, lp: np.ndarray | None = None) -> np.ndarray:
        """log σ, summed term by term in float32 (a year of 1 km maps stays cheap). The season enters as its
        coefficient per hour, not as three one-hot maps: adding the zero terms changed nothing but the time."""
        third = near_km if third_km is None else third_km
        sp = np.full(np.shape(pred), self.ref_spread, "float32") if spread is None else spread
        c = np.asarray(self.scale_coef, "float32")
        near = np.minimum(_finite32(near_km, nan=FAR_KM, posinf=FAR_KM), FAR_KM)
        far3 = np.maximum(np.minimum(_finite32(third, nan=FAR_KM, posinf=FAR_KM), FAR_KM), near)
        lp = np.log1p(np.maximum(_finite32(pred, nan=0.0), 0.0)) if lp is None else lp
        out = c[0] + c[1] * np.log1p(near)
        out += c[2] * np.log1p(far3)
        out += c[3] * lp
        out += c[4] * (lp * lp)
        out += c[5] * np.log(_finite32(sp, nan=0.0) + np.float32(SPREAD_FLOOR))
        s = season_index(np.asarray(times).ravel()).reshape(np.shape(times))
        per = np.concatenate([[0.0], c[6:9]]).astype("float32")[s]  # DJF: 0
        return out + per.reshape(per.shape + (1,) * (out.ndim - per.ndim))

    def bounds(self, pred: np.ndarray, near_km: np.ndarray, times: np.ndarray, third_km: np.ndarray | None = None,
               spread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) µg/m³ for (T, N) predictions; NaN where the prediction is NaN.

        Without ``third_km`` the third-nearest observed station is taken as near as the nearest
        (narrowest), without ``spread`` the calibration median.
        """
        z = np.log1p(np.maximum(_finite32(pred, nan=0.0), 0.0))
        sig = np.exp(self._log_scale(pred, near_km, times, third_km, spread, lp=z))
        if np.asarray(pred).dtype == np.float32:  # the level again, but NaN (and +inf) predictions kept as such
            p = np.asarray(pred)
            odd = ~(p < np.inf)
            z = z.copy() if odd.any() else z
            z[odd] = np.log1p(np.maximum(p[odd], 0.0))
        else:
            z = np.log1p(np.maximum(pred, 0.0)).astype("float32")  # NaN predictions stay NaN bounds
        if self.band_edges:
            b = band_of(near_km, self.band_edges)
            q_lo, q_hi = self.q_lo.astype("float32")[b], self.q_hi.astype("float32")[b]
        else:  # one pooled pair: the same float32 products as gathering it per cell
            q_lo, q_hi = np.float32(self.q_lo[0]), np.float32(self.q_hi[0])
        lo = np.expm1(np.maximum(z + q_lo * sig, 0.0))
        hi = np.expm1(z + q_hi * sig)
        return lo, hi

    def to_json(self) -> dict:
        out = asdict(self)
        for k in ("q_lo", "q_hi", "counts", "scale_coef"):
            out[k] = np.asarray(out[k]).tolist()
        out["seasons"] = list(SEASONS)
        return out

    @classmethod
    def from_json(cls, data: dict) -> IntervalTable:
        data = dict(data)
        data.pop("seasons", None)
        if tuple(data.get("scale_terms", ())) != SCALE_TERMS:
            raise ValueError("made by an older calibration (no scale model with the current terms)")
        for k in ("q_lo", "q_hi", "scale_coef"):
            data[k] = np.asarray(data[k], dtype=float)
        data["counts"] = np.asarray(data["counts"], dtype=int)
        data["dist_edges"], data["scale_terms"] = tuple(data["dist_edges"]), tuple(data["scale_terms"])
        if "band_edges" in data:
            data["band_edges"] = tuple(data["band_edges"])
        else:  # fitted before the edges were stored: two pairs were the < / ≥ 20 km bands
            data["band_edges"] = LEGACY_BAND_EDGES_KM if len(data["q_lo"]) == 2 else ()
        if len(data["q_lo"]) != len(data["band_edges"]) + 1:
            raise ValueError("quantile pairs do not match the distance bands")
        return cls(**data)


def _conformal(r: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal lower/upper quantiles of residuals ``r`` with the finite-sample correction."""
    n = len(r)
    a = (1.0 - level) / 2
    k_hi = min(n - 1, int(np.ceil((n + 1) * (1 - a))) - 1)
    k_lo = max(0, int(np.floor((n + 1) * a)) - 1)
    srt = np.sort(r)
    return float(srt[k_lo]), float(srt[k_hi])


def fit_scale(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Least squares of log(|r| + floor) on design ``x`` (n, P); distance terms that come out
    negative are dropped (set to 0) and the rest refitted, so σ never falls with distance."""
    y = np.log(np.abs(r) + ABS_FLOOR)
    use = np.ones(x.shape[1], bool)
    while True:
        coef = np.zeros(x.shape[1])
        coef[use] = np.linalg.lstsq(x[:, use].astype(float), y, rcond=None)[0]
        neg = [j for j in _MONOTONE if use[j] and coef[j] < 0]
        if not neg:
            return coef
        use[neg] = False


MAX_SHIFT = 0.03  # cap on the quantile-level raise for the shift to unseen months and stations


def band_of(near_km: np.ndarray, edges: tuple[float, ...] = BAND_EDGES_KM) -> np.ndarray:
    """Index of the ``edges`` band (default :data:`BAND_EDGES_KM`) of nearest-observed distances (km)."""
    return np.searchsorted(np.asarray(edges, float), np.nan_to_num(near_km, nan=FAR_KM), side="right")


def _fit(x: np.ndarray, r: np.ndarray, band: np.ndarray, level: float | np.ndarray,
         n_b: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale coefficients and per-band score quantiles at ``level`` (one, or one per band; a band with
    < MIN_COUNT cells takes the pooled ones); the upper (lower) quantile is made non-decreasing
    (non-increasing) over the ``n_b`` bands."""
    coef = fit_scale(x, r)
    sc = r / np.exp(x @ coef)
    lv = np.broadcast_to(np.asarray(level, float), (n_b,))
    qs = np.array([_conformal(sc[band == b] if (band == b).sum() >= MIN_COUNT else sc, lv[b])
                   for b in range(n_b)])
    return coef, np.minimum.accumulate(qs[:, 0]), np.maximum.accumulate(qs[:, 1])


N_STATION_FOLDS = 5  # held-out-station folds of the level raise


def held_out_coverage(x: np.ndarray, r: np.ndarray, band: np.ndarray, times: np.ndarray, level: float,
                      stations: np.ndarray | None = None, n_b: int = 1, score_band: np.ndarray | None = None,
                      n_score: int | None = None, stations_alone: bool = False) -> np.ndarray | None:
    """Coverage per band (B,) of the fit when moved to months *and stations* it did not see: fitted on odd
    (even) months, or on one pair of months in two, without one fold in :data:`N_STATION_FOLDS` of the
    stations (random, seed 0), and scored on that fold's cells of the other months; None when the cells
    span too few months (a band without held-out cells gets the pooled figure). Without ``stations``
    only months are held out. The fit takes its quantiles per ``band`` (``n_b`` bands); the coverage is
    counted per ``score_band`` (``n_score``; default ``band``). ``stations_alone``: when no month split is
    usable, hold out the station folds over every month instead of returning None."""
    month = np.asarray(times).astype("datetime64[M]").astype(int)
    if stations is None:
        sfold = np.zeros(len(r), int)
    else:
        codes, inv = np.unique(np.asarray(stations).astype(str), return_inverse=True)
        sfold = (np.random.default_rng(0).permutation(len(codes)) % N_STATION_FOLDS)[np.asarray(inv).ravel()]
    if score_band is None:
        score_band, n_score = band, n_b
    n_s = n_score or n_b
    inside, n = np.zeros(n_s), np.zeros(n_s)
    folds = [f for f in (month % 2, (month // 2) % 2) if min((f == 0).mean(), (f == 1).mean()) >= 0.1]
    if not folds and stations_alone and stations is not None:
        folds = [np.zeros(len(r), int)]  # k = 0: train on the other stations' cells, score this fold's
    for fold in folds:
        for k in (0, 1):
            for f in np.unique(sfold):
                held = sfold == f  # every cell when stations are not held out
                tr, te = (fold != k) & (~held if stations is not None else True), (fold == k) & held
                if not fold.any():  # stations alone: every month on both sides
                    tr, te = ~held, held & (k == 0)
                if tr.sum() < 20 or not te.any():
                    continue
                coef, q_lo, q_hi = _fit(x[tr], r[tr], band[tr], level, n_b)
                sc = r[te] / np.exp(x[te] @ coef)
                hit = (sc >= q_lo[band[te]]) & (sc <= q_hi[band[te]])
                inside += np.bincount(score_band[te], weights=hit, minlength=n_s)
                n += np.bincount(score_band[te], minlength=n_s)
    if not n.sum():
        return None
    return np.where(n > 0, inside / np.maximum(n, 1), inside.sum() / n.sum())


def choose_bands(x: np.ndarray, r: np.ndarray, near_km: np.ndarray, times: np.ndarray, level: float,
                 stations: np.ndarray | None) -> tuple[tuple[float, ...], np.ndarray | None]:
    """``()`` (one pooled pair) or :data:`BAND_EDGES_KM`, and the pooled pair's held-out coverage per band.

    On BTH validation cells the pooled pair's held-out coverage stays within a point of the level in both
    bands, and per-band pairs over-cover isolated targets of stations they did not see (module docstring);
    where the scale model misses the shape of the error with distance (the simulator: 0.95 near monitors,
    0.80 at 20–45 km), the pooled pair misses a band by more than :data:`BAND_TOL` and the bands are kept."""
    b = band_of(near_km, BAND_EDGES_KM)
    check = held_out_coverage(x, r, np.zeros(len(r), int), times, level, stations, 1, score_band=b,
                              n_score=len(BAND_EDGES_KM) + 1, stations_alone=True)
    if check is not None and np.max(np.abs(check - level)) > BAND_TOL:
        return BAND_EDGES_KM, check
    return (), check


def fit_table(model: str, pred: np.ndarray, truth: np.ndarray, near_km: np.ndarray, times: np.ndarray,
              level: float = DEFAULT_LEVEL, third_km: np.ndarray | None = None, spread: np.ndarray | None = None,
              fingerprint_: str = "", meta: dict | None = None, stations: np.ndarray | None = None,
              band_edges: tuple[float, ...] | None = None) -> IntervalTable:
    """Fit the table from flat calibration cells: ``pred``/``truth`` µg/m³, ``near_km``/``third_km`` km,
    ``spread`` (log units), ``times``, ``stations`` (codes of the cells' stations; all (n,)).

    The quantiles are taken at ``level`` raised by what the fit loses on months and stations it did not see
    (:func:`held_out_coverage`, at most :data:`MAX_SHIFT`): the shipped interval serves other days, periods
    and station sets, not the calibration cells themselves.

    ``band_edges`` None (default): one pooled quantile pair, unless that pair, moved to stations (and months)
    it did not see, covers a :data:`BAND_EDGES_KM` band more than :data:`BAND_TOL` off the level — a scale
    model that misses the shape of the error with distance — then one pair per band (:func:`choose_bands`).
    """
    third_km = near_km if third_km is None else third_km
    spread = np.zeros(len(pred)) if spread is None else spread
    ok = np.isfinite(pred) & np.isfinite(truth)
    pred, truth, near_km, third_km, spread, times = (a[ok] for a in (pred, truth, near_km, third_km, spread, times))
    stations = None if stations is None else np.asarray(stations)[ok]
    if len(pred) < 20:
        raise ValueError(f"only {len(pred)} calibration cells: too few to calibrate an interval")
    r = np.log1p(np.maximum(truth, 0.0)) - np.log1p(np.maximum(pred, 0.0))
    x = design(pred, near_km, third_km, spread, times).astype(float)
    check = None
    if band_edges is None:
        band_edges, check = choose_bands(x, r, near_km, times, level, stations)
    band_edges = tuple(float(e) for e in band_edges)
    n_b = len(band_edges) + 1
    band = band_of(near_km, band_edges)
    held = held_out_coverage(x, r, band, times, level, stations, n_b)
    q_level = np.full(n_b, level) if held is None else np.clip(2 * level - held, level, level + MAX_SHIFT)
    coef, q_lo, q_hi = _fit(x, r, band, q_level, n_b)
    d = np.searchsorted(np.asarray(DIST_EDGES_KM), near_km, side="right")
    counts = np.bincount(d, minlength=len(DIST_EDGES_KM) + 1)
    meta = dict(meta or {}) | {"held_out_coverage": None if held is None else held.tolist(),
                               "held_out": "months and stations" if stations is not None else "months",
                               "quantile_level": q_level.tolist(),
                               "pooled_held_out_by_band": None if check is None else check.tolist()}
    return IntervalTable(model, float(level), np.minimum(q_lo, 0.0), np.maximum(q_hi, 0.0), counts,
                         scale_coef=coef, ref_spread=float(np.median(spread)), band_edges=band_edges,
                         fingerprint=fingerprint_, meta=meta)


def table_path(name: str, root: Path | None = None) -> Path:
    return (root or MODELS_DIR) / name / TABLE_FILE


def save_table(table: IntervalTable, root: Path | None = None) -> Path:
    p = table_path(table.model, root)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(table.to_json(), indent=1))
    return p


def load_table(name: str, root: Path | None = None) -> IntervalTable | None:
    """The shipped table of ``name``, or None (absent, unreadable, or fitted for another checkpoint — warned)."""
    p = table_path(name, root)
    if not p.is_file():
        return None
    try:
        table = IntervalTable.from_json(json.loads(p.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        warnings.warn(f"{p}: unreadable interval calibration ({err}); run "
                      f"`python -m core calibrate --model {name}`. Serving {name} without intervals.", stacklevel=2)
        return None
    if table.fingerprint != fingerprint(name, root):
        warnings.warn(f"{p} was calibrated for another version of '{name}' (its checkpoint or card changed); run "
                      f"`python -m core calibrate --model {name}`. Serving {name} without intervals.", stacklevel=2)
        return None
    return table


def _spread(v: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Std over the first axis of ``v`` (k, ...) where ``have`` (same shape); 0 where nothing is observed.
    Summed slot by slot in order (the same float32 arithmetic as a sum over a last axis of length k)."""
    w = have.astype("float32")
    cnt = np.maximum(w.sum(axis=0), 1.0)
    mean = (v * w).sum(axis=0) / cnt
    return np.sqrt((((v - mean) ** 2) * w).sum(axis=0) / cnt)


DOT_SLACK = 1e-9  # unit-vector dot slack of the candidate preselection (rounding is ~1e-15: ties stay inside)


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    p, lam = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)], axis=-1)


def nearest_candidates(tlat: np.ndarray, tlon: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                       c: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, c) indices and km of the ``c`` stations nearest each target, nearest first, ties by station index:
    exactly the first ``c`` of a stable argsort of each row of ``haversine_km`` (non-finite → inf).

    The full (N, S) haversine + argsort was most of a national tile's interval cost. Stations are ranked
    first by the dot product of unit vectors (one matrix product; monotone in the great-circle distance),
    every station within :data:`DOT_SLACK` of a row's c-th largest dot is kept, and only those few get
    their haversine distance and the stable sort.
    """
    tlat, tlon, lat, lon = (np.asarray(a, float) for a in (tlat, tlon, lat, lon))
    n, s = len(tlat), len(lat)
    order, dcand = np.zeros((n, c), np.intp), np.full((n, c), np.inf)
    if c == 0 or n == 0:
        return order, dcand

    def first_c(rows: np.ndarray, sel: np.ndarray, valid: np.ndarray) -> None:
        d = haversine_pairs_km(tlat[rows, None], tlon[rows, None], lat[sel], lon[sel])
        d = np.where(valid & np.isfinite(d), d, np.inf)
        o = np.argsort(d, axis=1, kind="stable")[:, :c]
        order[rows], dcand[rows] = np.take_along_axis(sel, o, axis=1), np.take_along_axis(d, o, axis=1)

    xs = _unit(lat, lon)
    step = max(1, 4_000_000 // max(1, s))  # bounds the (rows, S) block
    for a in range(0, n, step):
        rows = np.arange(a, min(n, a + step))
        if c >= s:
            first_c(rows, np.broadcast_to(np.arange(s), (len(rows), s)), np.ones((len(rows), s), bool))
            continue
        far = -(_unit(tlat[rows], tlon[rows]) @ xs.T)  # (rows, S), increasing with distance
        far[np.isnan(far)] = np.inf
        thr = np.partition(far, c - 1, axis=1)[:, c - 1:c]
        inside = far <= thr + DOT_SLACK  # ≥ c per row
        counts = inside.sum(axis=1)
        wide = counts > 4 * c  # e.g. a target without coordinates (every station at inf): full row
        if wide.any():
            n_w = int(wide.sum())
            first_c(rows[wide], np.broadcast_to(np.arange(s), (n_w, s)), np.ones((n_w, s), bool))
            inside[wide] = False
            counts[wide] = 0
        rr, qq = np.nonzero(inside)  # station index ascending within a row
        slot = np.arange(len(rr)) - (np.cumsum(counts) - counts)[rr]
        sel, valid = np.zeros((len(rows), counts.max()), np.intp), np.zeros((len(rows), counts.max()), bool)
        sel[rr, slot], valid[rr, slot] = qq, True
        if not wide.all():
            first_c(rows[~wide], sel[~wide], valid[~wide])
    return order, dcand


class Neighbours:
    """:class:`Neighbourhood` of targets given the stations observed each hour, with cached geometry.

    The ``N_CANDIDATES`` nearest stations of every target are found once per (targets, stations) pair
    (:func:`nearest_candidates`). Per call, every (hour, target) whose k nearest candidates are all observed
    ("settled") takes them as they are; the others take the first k observed candidates in one vectorized pass;
    only pairs whose candidates hold fewer than k observed stations while other stations are observed search
    every station, once per distinct pattern of observed stations. The result is that of a stable argsort
    of each hour's masked distance row (ties by station index).

    Targets with the same k nearest candidates in the same order (neighbouring cells of a map: ~4k lists for
    the 17.8k targets of the BTH 0.05° grid) have the same spread in every settled hour, so it is computed once
    per list and hour; only the unsettled (hour, target) pairs get arrays of their own.
    """

    def __init__(self, k: int = SPREAD_K) -> None:
        self.k = k
        # one call at a time: the cached geometry below is replaced when the targets change, and the dashboard's
        # warm-up threads share a loaded model (and so this object) with the pages
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._order = self._dcand = None
        self._coords: tuple[np.ndarray, ...] = ()
        self._inc_target = self._inc_ptr = None
        self._first_idx = self._first_km = None
        self._rep = self._group = None

    def _geometry(self, lat: np.ndarray, lon: np.ndarray, tlat: np.ndarray, tlon: np.ndarray,
                  ever: np.ndarray) -> None:
        """Candidates among the stations ``ever`` (S,) observed at some hour of the call: a station silent all
        day would otherwise unsettle every target it is near, every hour."""
        key = (lat.tobytes(), lon.tobytes(), tlat.tobytes(), tlon.tobytes(), ever.tobytes())
        if key != self._key:
            keep = np.flatnonzero(ever)
            order, self._dcand = nearest_candidates(tlat, tlon, lat[keep], lon[keep], min(N_CANDIDATES, len(keep)))
            self._order = keep[order]
            self._key, self._coords = key, (lat, lon, tlat, tlon)
            # which targets hold station s among their k nearest candidates (CSR by station): a missing
            # station-hour unsettles only those
            first = self._order[:, :min(self.k, self._order.shape[1])]
            by = np.argsort(first.ravel(), kind="stable")
            self._inc_target = np.repeat(np.arange(len(tlat)), first.shape[1])[by]
            self._inc_ptr = np.searchsorted(first.ravel()[by], np.arange(len(lat) + 1))
            # (k, N) the k nearest candidates, padded with "not found" (index 0, inf km) when fewer than k
            n, c = self._order.shape
            slots = np.minimum(np.arange(self.k), c)
            self._first_idx = np.concatenate([self._order, np.zeros((n, 1), np.intp)], axis=1).T[slots]
            self._first_km = np.concatenate([self._dcand, np.full((n, 1), np.inf)], axis=1).T[slots]
            # targets sharing their settled neighbourhood: the same k nearest candidates (and padding); rows
            # grouped by a lexsort of the columns (np.unique(axis=0) sorted void views, ~7× slower)
            same = np.concatenate([self._first_idx, np.isfinite(self._first_km)])  # (2k, N)
            by = np.lexsort(same[::-1])
            srt = same[:, by]
            new = np.ones(len(by), bool)
            new[1:] = (srt[:, 1:] != srt[:, :-1]).any(axis=0)
            self._rep = by[new]  # one target of each group (their rows are equal)
            self._group = np.empty(len(by), np.intp)
            self._group[by] = np.cumsum(new) - 1

    def _full(self, pattern: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, min(k, S)) station indices and km of the nearest stations observed in ``pattern`` (S,) for
        target ``rows`` (M,), searching every station (inf: none)."""
        lat, lon, tlat, tlon = self._coords
        d = haversine_km(tlat[rows], tlon[rows], lat, lon)
        full = np.where(pattern[None, :] & np.isfinite(d), d, np.inf)
        srt = np.argsort(full, axis=1, kind="stable")[:, :min(self.k, full.shape[1])]
        return srt, np.take_along_axis(full, srt, axis=1)

    def _unsettled(self, available: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The (hour, target) pairs of ``available`` (T, S) bool whose k nearest candidates are not all observed:
        hours ``ti`` and targets ``ni`` (M,), ascending by hour then target, with their (k, M) station indices
        and km of the k nearest stations observed that hour, nearest first (km inf, index 0: none)."""
        order, dcand, k = self._order, self._dcand, self.k
        (n, c), (n_t, s) = order.shape, available.shape
        none = np.zeros(0, np.intp)
        if c == 0 or n_t == 0:
            return none, none, np.zeros((k, 0), np.intp), np.zeros((k, 0))
        # a missing station-hour unsettles just the targets that hold it among their k nearest candidates
        mt, ms = np.nonzero(~available)
        per = self._inc_ptr[ms + 1] - self._inc_ptr[ms]
        at = np.repeat(self._inc_ptr[ms] - (np.cumsum(per) - per), per) + np.arange(per.sum())
        settled = np.ones((n_t, n), bool)
        settled[np.repeat(mt, per), self._inc_target[at]] = False
        ti, ni = np.nonzero(~settled)
        if not len(ti):
            return none, none, np.zeros((k, 0), np.intp), np.zeros((k, 0))
        order_p = np.concatenate([order, np.zeros((n, 1), np.intp)], axis=1)  # column c: "not found"
        dcand_p = np.concatenate([dcand, np.full((n, 1), np.inf)], axis=1)
        cand = available.ravel()[np.ascontiguousarray(order[ni].T) + ti * s]  # (c, M): candidate observed that hour
        small = np.int8 if c < 127 else np.int16  # running counts: int8 sums are ~10x faster here
        cs = np.cumsum(cand, axis=0, dtype=small)
        # slot j: the candidate at which the running count of observed candidates reaches j + 1 (c: none)
        pos = np.stack([np.add.reduce(cs <= j, axis=0, dtype=small) for j in range(k)]).astype(np.intp)
        at = ni * (c + 1) + pos
        idx, dk = order_p.ravel()[at], dcand_p.ravel()[at]
        cnt = cs[-1]
        need = np.zeros((n_t, n), bool)
        need[ti, ni] = (cnt < k) & (cnt < available.sum(axis=1)[ti])
        hours = np.flatnonzero(need.any(axis=1))
        if len(hours):  # observed stations beyond the candidates may be among the k nearest
            cell = ti * n + ni  # ascending: where a (hour, target) pair sits in the returned arrays
            pats, inv = np.unique(available[hours], axis=0, return_inverse=True)
            inv = np.asarray(inv).ravel()
            for p_i, pattern in enumerate(pats):
                hrs = hours[inv == p_i]
                rows = np.flatnonzero(need[hrs[0]])  # need depends on the pattern only
                srt, dd = self._full(pattern, rows)
                m = srt.shape[1]
                pad_i, pad_d = np.zeros((k, len(rows)), np.intp), np.full((k, len(rows)), np.inf)
                pad_i[:m], pad_d[:m] = srt.T, dd.T
                at = np.searchsorted(cell, (hrs[:, None] * n + rows[None, :]).ravel())  # hour-major
                idx[:, at], dk[:, at] = np.tile(pad_i, len(hrs)), np.tile(pad_d, len(hrs))
        return ti, ni, idx, dk

    def __call__(self, available: np.ndarray, values: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                 tlat: np.ndarray, tlon: np.ndarray) -> Neighbourhood:
        """``available`` (T, S) bool and ``values`` (T, S) µg/m³ → :class:`Neighbourhood` of (T, N) arrays.
        Thread-safe (calls are serialized)."""
        with self._lock:
            return self._call(available, values, lat, lon, tlat, tlon)

    def _call(self, available: np.ndarray, values: np.ndarray, lat: np.ndarray, lon: np.ndarray,
              tlat: np.ndarray, tlon: np.ndarray) -> Neighbourhood:
        avail = np.asarray(available, bool)
        self._geometry(lat, lon, tlat, tlon, avail.any(axis=0))
        n_t, n = avail.shape[0], len(tlat)
        near, third = np.full((n_t, n), np.inf), np.full((n_t, n), np.inf)
        spread = np.zeros((n_t, n), "float32")
        if len(lat) == 0 or n_t == 0:
            return Neighbourhood(near, third, spread)
        logv = np.log1p(np.maximum(np.nan_to_num(np.asarray(values, "float32"), nan=0.0), 0.0))
        s = logv.shape[1]
        first_idx, first_km, rep = self._first_idx, self._first_km, self._rep
        have_rep = np.isfinite(first_km[:, rep])  # (k, G)
        chunk = max(1, 4_000_000 // max(1, n * self.k))  # bounds the (k, hours, ·) arrays
        for a in range(0, n_t, chunk):
            e = min(n_t, a + chunk)
            lv = logv[a:e]
            # settled hours: every target's k nearest candidates; the spread once per shared candidate list
            near[a:e] = first_km[0]
            if self.k >= 3:
                third[a:e] = first_km[2]
            v = np.ascontiguousarray(lv[:, first_idx[:, rep]].transpose(1, 0, 2))  # (k, hours, G)
            spread[a:e] = _spread(v, np.broadcast_to(have_rep[:, None, :], v.shape))[:, self._group]
            ti, ni, idx, dk = self._unsettled(avail[a:e])
            if len(ti):
                near[a + ti, ni] = dk[0]
                if self.k >= 3:
                    third[a + ti, ni] = dk[2]
                spread[a + ti, ni] = _spread(np.take(lv.ravel(), idx + ti * s), np.isfinite(dk))
        return Neighbourhood(near, third, spread)


class CalibratedKriger:
    """Any Kriger plus calibrated intervals: ``station_lo``/``station_hi`` and grid ``pm25_lo``/``pm25_hi``."""

    def __init__(self, base, table: IntervalTable) -> None:
        self.base = base
        self.table = table
        self.name = base.name
        self.level = table.level
        self._near = Neighbours()

    def __getattr__(self, attr: str):  # history_hours, hparams, card, device, module … of the wrapped model
        if attr in ("base", "table", "_near"):
            raise AttributeError(attr)
        return getattr(self.base, attr)

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        res = self.base.infer(stations, observed, grid, window)
        return self.add_intervals(res, stations, observed, grid)

    def add_intervals(self, res: InferenceResult, stations: xr.Dataset, observed: np.ndarray,
                      grid: GridSpec | None) -> InferenceResult:
        """Set the calibrated interval on ``res`` (replacing any model-based one) at its level."""
        times = res.station_pred["time"].values
        t_all = stations["time"].values
        sel = np.isin(t_all, times)
        obs = np.asarray(observed, bool)
        obs = obs[sel] if obs.ndim == 2 else np.broadcast_to(obs, (int(sel.sum()), stations.sizes["station"]))
        avail = obs & np.isfinite(stations["pm25"].values[sel])
        lat, lon = stations["lat"].values.astype(float), stations["lon"].values.astype(float)
        pos = {c: i for i, c in enumerate(stations["station"].values.astype(str))}
        cols = np.array([pos[c] for c in res.station_pred["station"].values.astype(str)])
        tlat, tlon = lat[cols], lon[cols]
        if grid is not None and res.grid is not None:
            glat, glon = grid.points()
            tlat, tlon = np.concatenate([tlat, glat]), np.concatenate([tlon, glon])
        values = stations["pm25"].values[sel]
        hood = self._near(avail, values, lat, lon, tlat, tlon)
        n_s = len(cols)
        if res.station_lo is not None:  # the model's own (uncalibrated) interval, kept for comparison
            res.extras["own_interval"] = {"station_lo": res.station_lo, "station_hi": res.station_hi,
                                          **(res.extras.get("interval") or {})}
        sp = res.station_pred.values
        lo, hi = self.table.bounds(sp, hood.near_km[:, :n_s], times, hood.third_km[:, :n_s], hood.spread[:, :n_s])
        res.station_lo = res.station_pred.copy(data=lo.astype("float32"))
        res.station_hi = res.station_pred.copy(data=hi.astype("float32"))
        attrs = {"units": "ug m-3", "level": self.level, "method": "normalized split conformal (validation days)"}
        res.station_lo.attrs, res.station_hi.attrs = attrs | {"bound": "lower"}, attrs | {"bound": "upper"}
        if grid is not None and res.grid is not None:
            g = res.grid["pm25"].values
            gshape = g.shape
            glo, ghi = self.table.bounds(g.reshape(len(times), -1), hood.near_km[:, n_s:], times,
                                         hood.third_km[:, n_s:], hood.spread[:, n_s:])
            for var, arr, bound in (("pm25_lo", glo, "lower"), ("pm25_hi", ghi, "upper")):
                res.grid[var] = (("time", "lat", "lon"), arr.reshape(gshape).astype("float32"),
                                 {"units": "ug m-3", "long_name": f"PM2.5 {bound} bound ({self.level:.0%} interval)",
                                  "level": self.level})
            res.grid.attrs["interval_level"] = self.level
        res.extras["interval"] = {"kind": "normalized split conformal on validation days", "level": self.level}
        return res
