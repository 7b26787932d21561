"""Run a model (and the baselines) through a protocol and build the evaluation JSON.

Every model — the one evaluated and each baseline — goes through :func:`core.engine.infer.infer`
with the *same* observed masks and is scored on the same stations and hours. Nodes are the active
stations of the set (:func:`core.contracts.stationset.active_stations`); non-BTH stations are inputs.

Scored hours:
- ``--dataset`` without ``period``: test days of the monthly split (days 24–end), present hours;
- ``period``: every present hour in the span (the span replaces the split);
- ``--path`` (another period or station set): every present hour — the shipped checkpoints were
  trained elsewhere, so none of these hours was seen in training; ``S_test`` is drawn by the same
  rule and seed on that station set.

Inference runs once per protocol run and per contiguous block of scored hours (``window``); models
that read history before a window get it from the full StationSet (hidden stations stay blanked).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.kriger import Window, history_hours_of
from core.contracts.period import parse_period
from core.contracts.provenance import data_sha256, git_commit
from core.contracts.registry import accepts
from core.contracts.seasons import SEASONS, season_of
from core.contracts.settings import EVALUATION_BASELINES
from core.contracts.stationset import active_mask, active_stations
from core.data.load import load_stationset
from core.data.splits import TEST_SEED, VAL_FOLDS, select_test_stations, time_split, validation_folds
from core.engine.infer import infer
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.evaluation.metrics import all_metrics
from core.evaluation.protocols import Run, runs_for

MAX_GAP_HOURS = 24  # unscored gaps up to a day stay inside one window (fewer calls)


@dataclass
class Scores:
    """Predictions and truth of one model over all runs, flattened to scored (run, hour, station) cells."""

    pred: list[np.ndarray]
    truth: list[np.ndarray]
    times: list[np.ndarray]
    wind: str = "none"
    params: dict | None = None  # scalar extras of the model (power, k, …); "fallback*" counts summed over calls
    lo: list[np.ndarray] = field(default_factory=list)  # interval bounds per run (NaN: model gave none)
    hi: list[np.ndarray] = field(default_factory=list)
    level: float | None = None
    own_lo: list[np.ndarray] = field(default_factory=list)  # the model's own interval under the calibrated one
    own_hi: list[np.ndarray] = field(default_factory=list)
    own_level: float | None = None

    def note(self, extras: dict) -> None:
        self.params = self.params or {}
        for k, v in extras.items():
            if isinstance(v, (bool, str)) or not isinstance(v, (int, float, np.integer, np.floating)):
                continue
            self.params[k] = self.params.get(k, 0) + v if k.startswith("fallback") else v



def resolve_test_stations(ds: xr.Dataset, test_stations: Sequence[str] | str | Path | None) -> list[str]:
    """``S_test``: the default rule, or user codes (comma list or a file of codes) checked one by one."""
    if test_stations is None:
        return select_test_stations(ds, seed=TEST_SEED)
    if isinstance(test_stations, (str, Path)):
        text = str(test_stations)
        p = Path(text)
        if p.is_file():
            text = p.read_text()
        codes = [c.strip() for c in text.replace("\n", ",").split(",") if c.strip() and not c.startswith("#")]
    else:
        codes = [str(c).strip() for c in test_stations]
    if not codes:
        raise InvalidRequest("--test-stations is empty.")
    all_codes = set(ds["station"].values.astype(str))
    active = set(ds["station"].values[active_mask(ds)].astype(str))
    for c in codes:
        if c not in all_codes:
            raise InvalidRequest(f"Unknown station code '{c}' in --test-stations (not in this dataset).")
        if c not in active:
            raise InvalidRequest(
                f"Station '{c}' in --test-stations is not active (no coordinates or <50 % PM2.5 coverage).")
    return sorted(set(codes))


SPLITS = ("test", "val")


def scored_hours(ds: xr.Dataset, period: str | None, use_split: bool, split: str = "test") -> tuple[np.ndarray, str]:
    """(time,) bool of hours to score and the rule used ("test-days", "val-days", "period", "all").

    ``split="val"`` scores validation days (21–23 of each month); with ``period`` too, their intersection.
    """
    t = ds["time"].values
    present = ds["present"].values if "present" in ds.coords else np.ones(len(t), bool)
    if split == "val":
        hours = present & time_split(t)["val"]
        if period:
            a, b = parse_period(period, t)
            hours &= (t >= a) & (t <= b)
        return hours, "val-days"
    if period:
        a, b = parse_period(period, t)
        return present & (t >= a) & (t <= b), "period"
    if use_split:
        return present & time_split(t)["test"], "test-days"
    return present.copy(), "all"


def validation_view(ds: xr.Dataset, s_test: Sequence[str], fold: int = 0) -> tuple[xr.Dataset, list[str]]:
    """The station set design choices are made on: ``S_test`` removed entirely (as in training), and the
    stations of validation fold ``fold`` (:func:`core.data.splits.validation_folds`; fold 0 is ``S_val``, drawn
    from the rest by the same rule and seed as ``S_test``). Protocols then hide and score that fold exactly as
    they hide and score ``S_test`` on test days."""
    keep = ~np.isin(ds["station"].values.astype(str), list(s_test))
    view = ds.isel(station=np.flatnonzero(keep))
    folds = validation_folds(view)
    if not 0 <= fold < len(folds):
        raise InvalidRequest(f"Validation fold {fold} does not exist: this station set has folds 0–{len(folds) - 1} "
                             f"(of {VAL_FOLDS} asked for). Pass --fold between 0 and {len(folds) - 1}.")
    return view, folds[fold]


def all_folds(stations: xr.Dataset) -> tuple[int, ...]:
    """Every validation station fold of ``stations`` (a StationSet as loaded), see :func:`validation_view`."""
    view = validation_view(active_stations(stations), resolve_test_stations(stations, None))[0]
    return tuple(range(len(validation_folds(view))))


def blocks(mask: np.ndarray, max_gap: int = 0) -> list[slice]:
    """Contiguous runs of True in ``mask`` as index slices; runs separated by ≤ ``max_gap`` False are merged."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    spans = [[a, b] for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)]
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] <= max_gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [slice(int(a), int(b)) for a, b in merged]


def windows(hours: np.ndarray) -> list[slice]:
    """Inference windows: blocks of scored hours, bridging gaps up to :data:`MAX_GAP_HOURS`."""
    return blocks(hours, MAX_GAP_HOURS)


def run_model(model, ds: xr.Dataset, runs: Sequence[Run], hours: np.ndarray,
              tick: Callable[[], None] = lambda: None) -> Scores:
    """Infer every run × window; collect predictions and truth at the scored stations and hours.

    Each call gets the window plus the history the model reads
    (:func:`core.contracts.kriger.history_hours_of`; the hidden stations are blanked there too), which keeps
    the per-call copy small.
    """
    codes = ds["station"].values.astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    times = ds["time"].values
    truth_all = ds["pm25"].values
    out = Scores([], [], [])
    wins = windows(hours)
    hist = history_hours_of(model)
    for run in runs:
        observed = ~np.isin(codes, run.hidden)
        cols = np.array([pos[c] for c in run.scored])
        preds, truths, ts, los, his, own_los, own_his = [], [], [], [], [], [], []
        for blk in wins:
            sub = ds.isel(time=slice(0 if hist is None else max(0, blk.start - hist), blk.stop))
            win = Window(times[blk.start], times[blk.stop - 1])
            try:
                res = infer(model, sub, observed, None, win)
            except InvalidRequest:  # a window with no observed value at all (source gap): nothing to score
                tick()
                continue
            out.wind = res.wind
            out.note(res.extras)
            keep = times[blk][hours[blk]]
            sp = res.station_pred.sel(station=list(run.scored)).sel(time=keep).values
            preds.append(sp)
            for bound, store in ((res.station_lo, los), (res.station_hi, his)):
                store.append(np.full(sp.shape, np.nan) if bound is None
                             else bound.sel(station=list(run.scored)).sel(time=keep).values)
            if res.station_lo is not None:
                out.level = (res.extras.get("interval") or {}).get("level", out.level)
            own = res.extras.get("own_interval")
            for key, store in (("station_lo", own_los), ("station_hi", own_his)):
                store.append(np.full(sp.shape, np.nan) if own is None
                             else own[key].sel(station=list(run.scored)).sel(time=keep).values)
            if own is not None:
                out.own_level = own.get("level")
            truths.append(truth_all[blk][hours[blk]][:, cols])
            ts.append(np.broadcast_to(keep[:, None], sp.shape))
            tick()
        out.pred.append(np.concatenate(preds) if preds else np.zeros((0, len(cols))))
        out.truth.append(np.concatenate(truths) if truths else np.zeros((0, len(cols))))
        out.times.append(np.concatenate(ts) if ts else np.zeros((0, len(cols)), "datetime64[ns]"))
        out.lo.append(np.concatenate(los) if los else np.zeros((0, len(cols))))
        out.hi.append(np.concatenate(his) if his else np.zeros((0, len(cols))))
        out.own_lo.append(np.concatenate(own_los) if own_los else np.zeros((0, len(cols))))
        out.own_hi.append(np.concatenate(own_his) if own_his else np.zeros((0, len(cols))))
    return out


def interval_metrics(pred: np.ndarray, truth: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     level: float | None) -> dict:
    """``coverage`` (share of scored cells inside [lo, hi]), ``interval_width`` (mean hi − lo, µg/m³), ``level``.

    Scored cells are those with a finite prediction and truth (as for MAE); None when the model gave no interval.
    """
    pred, truth, lo, hi = (np.asarray(a, float).ravel() for a in (pred, truth, lo, hi))
    cells = np.isfinite(pred) & np.isfinite(truth)
    has = cells & np.isfinite(lo) & np.isfinite(hi)
    if not has.any():
        return {"coverage": None, "interval_width": None, "level": None}
    inside = (truth[has] >= lo[has]) & (truth[has] <= hi[has])
    return {"coverage": float(inside.mean()), "interval_width": float((hi[has] - lo[has]).mean()),
            "level": level}


def station_sums(scores: Scores, runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """Per scored station, summed over every run that scored it: ``n`` scored cells, ``abs_err`` (sum of
    |prediction − truth|, µg/m³), ``n_interval`` cells with an interval and ``inside`` those the interval covers.

    The sums a station-level (cluster) bootstrap resamples (:mod:`core.evaluation.station_bootstrap`): one
    station's hours share its errors, so a station, not a cell, is the unit of sampling.
    """
    out: dict[str, dict[str, float]] = {}
    for run, p, t, lo, hi in zip(runs, scores.pred, scores.truth, scores.lo, scores.hi, strict=True):
        if not p.size:
            continue
        cells = np.isfinite(p) & np.isfinite(t)
        has = cells & np.isfinite(lo) & np.isfinite(hi)
        inside = has & (t >= np.where(has, lo, np.inf)) & (t <= np.where(has, hi, -np.inf))
        err = np.where(cells, np.abs(p - t), 0.0)
        for j, code in enumerate(run.scored):
            acc = out.setdefault(str(code), {"n": 0, "abs_err": 0.0, "n_interval": 0, "inside": 0})
            acc["n"] += int(cells[:, j].sum())
            acc["abs_err"] += float(err[:, j].sum())
            acc["n_interval"] += int(has[:, j].sum())
            acc["inside"] += int(inside[:, j].sum())
    return out


def summarise(scores: Scores, runs: Sequence[Run]) -> dict:
    """Pooled metrics, per-run (mae, rmse) and per-season metrics of one model."""
    per_run = []
    lv = scores.level
    for run, p, t, lo, hi in zip(runs, scores.pred, scores.truth, scores.lo, scores.hi, strict=True):
        m = all_metrics(p, t)
        per_run.append({"seed": run.seed, "group": run.group, "hidden_stations": list(run.hidden),
                        "scored_stations": list(run.scored), "mae": m["mae"], "rmse": m["rmse"], "n": m["n"],
                        **interval_metrics(p, t, lo, hi, lv)})

    def flat(parts: list[np.ndarray], dtype="float64") -> np.ndarray:
        return np.concatenate([a.ravel() for a in parts]) if parts else np.zeros(0, dtype)

    pred, truth, lo, hi = flat(scores.pred), flat(scores.truth), flat(scores.lo), flat(scores.hi)
    times = flat(scores.times, "datetime64[ns]")
    season = season_of(times)
    by_season = {s: all_metrics(pred[season == s], truth[season == s])
                 | interval_metrics(pred[season == s], truth[season == s], lo[season == s], hi[season == s], lv)
                 for s in SEASONS}
    metrics = all_metrics(pred, truth) | interval_metrics(pred, truth, lo, hi, lv)
    if scores.own_level is not None:  # e.g. logok's kriging-variance interval, for comparison with the calibrated one
        own = interval_metrics(pred, truth, flat(scores.own_lo), flat(scores.own_hi), scores.own_level)
        metrics["own_interval"] = own | {"kind": "model's own, uncalibrated"}
    return {"metrics": metrics, "by_season": by_season, "runs": per_run, "by_station": station_sums(scores, runs)}


def flagged_cells(ds: xr.Dataset, runs: Sequence[Run], scores: Scores) -> dict[str, int]:
    """Scored cells (finite prediction and truth) whose truth carries a ``qc_pm25`` flag, in total and per flag.

    A flagged truth may be an instrument fault rather than air; the report says how many were scored.
    """
    from core.data.qc import FLAG_NAMES

    counts = {"total": 0} | {name: 0 for name in FLAG_NAMES.values()}
    if "qc_pm25" not in ds:
        return counts
    qc = ds["qc_pm25"].values.astype(np.uint8)
    t_index = pd.Index(ds["time"].values)
    pos = {c: i for i, c in enumerate(ds["station"].values.astype(str))}
    for run, p, y, t in zip(runs, scores.pred, scores.truth, scores.times, strict=True):
        if not p.size:
            continue
        cols = np.array([pos[c] for c in run.scored])
        f = qc[t_index.get_indexer(t[:, 0])][:, cols]
        f = np.where(np.isfinite(p) & np.isfinite(y), f, 0)
        counts["total"] += int((f > 0).sum())
        for bit, name in FLAG_NAMES.items():
            counts[name] += int(((f & bit) > 0).sum())
    return counts


def seed_runs(runs: Sequence[Run], per_run: list[dict], scores: Scores) -> list[dict]:
    """One entry per seed (sparse-30km pools its per-target runs under seed 0)."""
    out = []
    for seed in sorted({r.seed for r in runs}):
        members = [i for i, r in enumerate(runs) if r.seed == seed]
        p = np.concatenate([scores.pred[i].ravel() for i in members])
        t = np.concatenate([scores.truth[i].ravel() for i in members])
        lo = np.concatenate([scores.lo[i].ravel() for i in members])
        hi = np.concatenate([scores.hi[i].ravel() for i in members])
        m = all_metrics(p, t)
        hidden = sorted({c for i in members for c in runs[i].hidden})
        entry = {"seed": int(seed), "hidden_stations": hidden, "mae": m["mae"], "rmse": m["rmse"], "n": m["n"],
                 **interval_metrics(p, t, lo, hi, scores.level)}
        if len(members) > 1:
            entry["hidden_by_target"] = {runs[i].group: list(runs[i].hidden) for i in members}
        out.append(entry)
    return out



def _clean(obj):
    """JSON-safe: NaN → None, numpy scalars → Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


@dataclass
class EvaluationSetup:
    """What every model of one evaluation is run on: the nodes, the scored hours and the protocol's runs."""

    stations: xr.Dataset  # the StationSet as given or loaded (its hash goes into the report)
    ds: xr.Dataset  # the nodes: active stations (on ``split="val"``, without ``S_test``)
    ds_name: str
    s_test: list[str]
    s_val: list[str]  # empty unless ``split="val"``: the stations of validation fold ``fold``
    hours: np.ndarray  # (time,) bool
    rule: str  # which rule chose ``hours`` (:func:`scored_hours`)
    runs: list[Run]
    fold: int = 0  # the validation fold scored (``split="val"`` only)

    @property
    def n_blocks(self) -> int:
        return len(windows(self.hours))


@dataclass
class ModelResult:
    """One model run through the protocol: its scored cells, their summary (:func:`summarise`) and inference time."""

    scores: Scores
    summary: dict
    seconds: float


@dataclass
class ModelFailure:
    """A baseline that could not be built or run; recorded in the report instead of its metrics."""

    error: str


class _Progress:
    """The optional tqdm bar over every inference call of the evaluation."""

    def __init__(self, enabled: bool, n_models: int, calls_per_model: int, desc: str) -> None:
        self.calls_per_model = calls_per_model
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=n_models * calls_per_model, desc=desc, unit="infer")

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def skip_model(self) -> None:
        """A model failed part-way: advance the bar past the rest of its calls."""
        if self.bar is not None:
            self.bar.update(self.calls_per_model - (self.bar.n % (self.calls_per_model or 1)))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def prepare_evaluation(
    protocol: str,
    dataset: str | None,
    path: str | Path | None,
    test_stations: Sequence[str] | str | Path | None,
    period: str | None,
    seeds: int | None,
    stations: xr.Dataset | None,
    split: str,
    fold: int = 0,
) -> EvaluationSetup:
    """Check the request, load the StationSet, choose ``S_test`` (and ``S_val``), the scored hours and the runs."""
    if split not in SPLITS:
        raise InvalidRequest(f"Unknown split '{split}'. Known: {', '.join(SPLITS)}.")
    if fold and split != "val":
        raise InvalidRequest(f"--fold {fold} picks a validation fold; it needs --split val.")
    if split == "val" and path is not None:
        raise InvalidRequest("--split val needs --dataset: a --path folder has no validation days of its own.")
    if stations is None:
        if (dataset is None) == (path is None):
            raise InvalidRequest("Give exactly one of --dataset or --path.")
        stations = load_stationset(dataset=dataset, path=path)
    ds_name = dataset if dataset is not None else (str(path) if path is not None else stations.attrs.get("source", ""))
    ds = active_stations(stations)
    s_test = resolve_test_stations(stations, test_stations)
    s_val: list[str] = []
    if split == "val":
        ds, s_val = validation_view(ds, s_test, fold)
    hours, rule = scored_hours(ds, period, use_split=path is None, split=split)
    if not hours.any():
        raise InvalidRequest("No hour to score in the chosen span (no data present there).")
    seed_list = list(range(seeds)) if seeds is not None else None
    if seeds is not None and seeds < 1:
        raise InvalidRequest("--seeds must be ≥ 1.")
    runs = runs_for(protocol, ds, s_val if split == "val" else s_test, seed_list)
    return EvaluationSetup(stations, ds, ds_name, list(s_test), s_val, hours, rule, list(runs), fold)


def score_model(model, setup: EvaluationSetup, tick: Callable[[], None] = lambda: None) -> ModelResult:
    """Run one model over every run's hidden set and summarise its scores."""
    t0 = time.perf_counter()
    scores = run_model(model, setup.ds, setup.runs, setup.hours, tick=tick)
    seconds = round(time.perf_counter() - t0, 2)
    return ModelResult(scores, summarise(scores, setup.runs), seconds)


def score_baselines(names: Sequence[str], setup: EvaluationSetup, model_for: Callable[[str], object],
                    done: dict[str, ModelResult], progress: _Progress) -> dict[str, ModelResult | ModelFailure]:
    """Each baseline on the same runs and hours, in ``names`` order; one already in ``done`` (the evaluated
    model) is not run again. A baseline that fails is recorded, not fatal."""
    results = dict(done)
    out: dict[str, ModelResult | ModelFailure] = {}
    for name in names:
        if name not in results:
            try:
                results[name] = score_model(model_for(name), setup, tick=progress.tick)
            except Exception as err:  # noqa: BLE001 — a missing/broken baseline is recorded, not fatal
                out[name] = ModelFailure(f"{type(err).__name__}: {err}")
                progress.skip_model()
                continue
        out[name] = results[name]
    return out


def baseline_entry(result: ModelResult | ModelFailure, runs: Sequence[Run]) -> dict:
    """A baseline's block of the report: its pooled metrics, params, per-season metrics and per-seed runs."""
    if isinstance(result, ModelFailure):
        return {"error": result.error}
    return result.summary["metrics"] | {
        "params": result.scores.params or {},
        "by_season": result.summary["by_season"],
        "runs": seed_runs(runs, result.summary["runs"], result.scores),
        "by_station": result.summary["by_station"],
    }


def scored_times(scores: Scores) -> np.ndarray:
    """Sorted distinct hours with at least one scored cell (finite prediction and truth)."""
    cells = [(t[np.isfinite(p) & np.isfinite(y)]) for t, p, y in zip(scores.times, scores.pred, scores.truth,
                                                                       strict=True)]
    return np.unique(np.concatenate(cells)) if cells else np.zeros(0, "datetime64[ns]")


def assemble_report(model_name: str, protocol: str, split: str, period: str | None, setup: EvaluationSetup,
                    main: ModelResult, baselines: dict[str, ModelResult | ModelFailure]) -> dict:
    """The evaluation JSON before :func:`_clean` (its keys are a public contract: the dashboard reads them)."""
    scored_t = scored_times(main.scores)
    base_out = {name: baseline_entry(r, setup.runs) for name, r in baselines.items()}
    report = {
        "model": model_name,
        "dataset": setup.ds_name,
        "protocol": protocol,
        "split": split,
        "wind": main.scores.wind,
        "test_stations": list(setup.s_test),
        **({"val_stations": list(setup.s_val), "val_fold": setup.fold, "test_stations_excluded": True}
           if split == "val" else {}),
        "times": {
            "start": str(pd.Timestamp(scored_t.min()).isoformat()) if len(scored_t) else None,
            "end": str(pd.Timestamp(scored_t.max()).isoformat()) if len(scored_t) else None,
            "count": int(len(scored_t)),
            "rule": setup.rule,
            "period": period,
            "tz": "Asia/Shanghai",
        },
        "runs": seed_runs(setup.runs, main.summary["runs"], main.scores),
        "metrics": main.summary["metrics"],
        "by_season": main.summary["by_season"],
        "by_station": main.summary["by_station"],
        "baselines": base_out,
    }
    idw_mae = base_out.get("idw", {}).get("mae")
    report["ratio_to_idw"] = (main.summary["metrics"]["mae"] / idw_mae) if idw_mae else None
    report["commit"] = git_commit()
    report["data_sha256"] = data_sha256(setup.stations)
    report["stations_active"] = int(setup.ds.sizes["station"])
    report["params"] = main.scores.params or {}
    report["n_inference_calls"] = len(setup.runs) * setup.n_blocks
    report["timing_s"] = {model_name: main.seconds} | {
        name: r.seconds for name, r in baselines.items() if isinstance(r, ModelResult) and name != model_name}
    flags = flagged_cells(setup.ds, setup.runs, main.scores)
    report["flagged_cells_scored"] = flags.pop("total")
    report["flagged_cells_by_flag"] = flags
    return report


def evaluate(
    model_name: str,
    protocol: str,
    dataset: str | None = None,
    path: str | Path | None = None,
    test_stations: Sequence[str] | str | Path | None = None,
    period: str | None = None,
    seeds: int | None = None,
    baselines: Sequence[str] = EVALUATION_BASELINES,
    stations: xr.Dataset | None = None,
    models: dict | None = None,
    progress: bool = False,
    split: str = "test",
    fold: int = 0,
) -> dict:
    """Evaluate ``model_name`` under ``protocol``; returns the report (keys: a public contract).

    ``split="val"``: the same protocol on validation days over the station set without ``S_test``,
    scoring ``S_val`` (:func:`validation_view`) — where ablations and hyper-parameters are chosen; ``fold``
    scores another of the disjoint validation station folds instead (0 = ``S_val``).

    ``stations``/``models`` let tests pass an in-memory StationSet and ready Krigers (by name);
    otherwise the data come from ``dataset``/``path`` and the models from the registry.
    ``seeds``: number of seeds (0..N-1) for mask-R protocols (default 5).
    """
    setup = prepare_evaluation(protocol, dataset, path, test_stations, period, seeds, stations, split, fold)
    models = dict(models or {})

    def model_for(name: str):
        if name not in models:  # settings tuned per protocol on validation days (e.g. IDW's power)
            models[name] = get_model(name, **({"protocol": protocol} if accepts(name, "protocol") else {}))
        return models[name]

    n_models = 1 + sum(b != model_name for b in baselines)
    bar = _Progress(progress, n_models, len(setup.runs) * setup.n_blocks, f"{model_name} {protocol}")
    main = score_model(model_for(model_name), setup, tick=bar.tick)
    baseline_results = score_baselines(baselines, setup, model_for, {model_name: main}, bar)
    bar.close()
    return _clean(assemble_report(model_name, protocol, split, period, setup, main, baseline_results))
