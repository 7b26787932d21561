"""Baseline settings chosen on validation days (never test days), through the evaluation's own code path.

Every candidate runs ``evaluate(..., split="val", fold=f)`` — the very protocol, on validation days,
``S_test`` removed — on each validation station fold (:func:`core.data.splits.validation_folds`: all 60
non-test BTH stations, 15 per fold, each hidden and scored as ``S_test`` is on test days), and its MAE is
pooled over the folds' cells. One fold (``S_val``) alone decided choices worth 1–2 % that its 15 stations'
sampling noise could not tell apart (stop 23's station bootstrap).

- IDW power, per protocol: each masking level hides a different share of the network, and the best
  power depends on it (p = 2 beats p = 3 when only ``S_test`` is hidden). The lowest MAE wins; written to
  ``assets/models/idw/card.json`` (``power`` = the mask-50 choice, ``power_by_protocol``).
- logok back-transform (``expm1`` = median vs ``lognormal`` = mean): the lower validation MAE over
  holdout and mask-50 wins; written to ``assets/models/logok/card.json``.
- spin's checkpoint (one of several training runs, or the shipped one) and its inference settings, searched jointly
  on a grid: ``ok_k`` (observed stations its log-kriging init reads), ``corr_scale`` (the share of its learned
  correction to that init that is served: 1 = as trained; below 1 shrinks an over-confident correction toward the
  init), ``chunk_hours`` (the longest chunk its encoder, which reads both earlier and later hours, is given at
  once: a chunk's first and last hours see context on one side only, so longer chunks serve more hours with both; a
  window is cut into near-equal chunks, none left short) and ``variogram`` (the kriging init's: ``trained``, fitted
  once on BTH training days; ``window``, refitted on each inference window from its observed stations, which
  follows another network's spatial scale; ``auto``, refitted only where those stations span less than the trained
  range). Every candidate runs the validation protocols with
  ``logok`` on the same hidden sets (one of them on a station set with the auxiliary pollutants removed, as a folder
  that reports PM2.5 only; one on another period and station set, UCI Beijing 2015-05 … 2017-02, PM2.5 only,
  standing in for the `evaluate --path` transfer that AQI-36 tests: until 2026-12-05 nothing chose for it, and the
  choice pooled over BTH folds moved AQI-36 the wrong way); the candidate whose worst MAE ratio to logok is lowest
  wins (the goal is to beat logok on every protocol), ties by the sum of MAE. Written to the ``inference`` block of
  ``assets/models/spin/card.json`` (:func:`core.engine.checkpoint.inference_settings`); spin must then be
  recalibrated.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from core.baselines.idw import CARD as IDW_CARD
from core.baselines.idw import IDW
from core.baselines.logok import BACKTRANSFORMS, LogOrdinaryKriging
from core.baselines.logok import CARD as LOGOK_CARD
from core.contracts.model_spec import VARIOGRAMS
from core.contracts.provenance import data_sha256, git_commit
from core.contracts.settings import DEFAULT_DATASET
from core.data.load import load_stationset
from core.errors import InvalidRequest
from core.evaluation.metrics import mae
from core.evaluation.runner import all_folds, prepare_evaluation, score_model
from core.nn.features import AUX_VARS

POWERS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)  # 1.0 was far worse everywhere; 4 was best at high masking
IDW_PROTOCOLS = ("holdout", "mask-30", "mask-50", "mask-70", "mask-90", "sparse-30km")
LOGOK_PROTOCOLS = ("holdout", "mask-50")
PM25_ONLY = "pm25-only"  # protocol variant: the station set without PM10/NO2/SO2/O3/CO
# protocol variant: another period and station set, as `evaluate --path` meets one — UCI Beijing (12 stations) on
# its validation days after AQI-36's year (so AQI-36 stays a test), PM2.5 only like AQI-36, over its own folds
OTHER_SET = "other-set"
OTHER_SET_DATA = ("uci_beijing_multisite", "2015-05-01/2017-02-28")
SPIN_PROTOCOLS = ("holdout", "mask-50", "sparse-30km", f"holdout:{PM25_ONLY}", f"holdout:{OTHER_SET}")
# 10 (the spin-2 default) lost on every protocol to 16 when last tuned; 20 and 24 were within 0.05 µg/m³ of each other
SPIN_OK_K = (16, 24)
SPIN_CORR_SCALES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # 1: as trained; a first scan had its minimum at 0.6-0.7
# longest inference chunk, h: a window is read in near-equal chunks of at most this many hours. Validation blocks are
# 72 h (days 21-23), so 72 is the longest length validation can tell from the rest (a 7-day window: three 56-h chunks)
SPIN_CHUNK_HOURS = (48, 72)
# the kriging init's variogram: as fitted on training days, refitted on each window's observed stations (on UCI
# Beijing's validation days the BTH fit made the init alone worse than logok, 12.86 vs 12.72 µg/m³), or refitted only
# on a network narrower than the trained range (BTH windows keep the steadier training-day fit)
SPIN_VARIOGRAMS = VARIOGRAMS
SHIPPED_RUN = "shipped"  # `tune --run shipped`: the checkpoint in the models folder, compared beside training runs
SPLIT_NOTE = "val (days 21-23), S_test removed, every validation station fold hidden and scored in turn (pooled)"


@functools.cache
def _other_set() -> xr.Dataset:
    """The station set of the ``other-set`` protocol variant (read once per process)."""
    return load_stationset(dataset=OTHER_SET_DATA[0])


def _val_cells(model, protocol: str, stations: xr.Dataset, folds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(pred, truth) µg/m³ of every scored cell of ``protocol`` on validation days, over validation station
    ``folds`` (each through the evaluation's own steps, as ``evaluate(..., split="val", fold=f)`` runs them);
    ``<protocol>:pm25-only`` runs it on ``stations`` with the auxiliary pollutants removed, the layout of a
    folder that reports PM2.5 only (AQI-36); ``<protocol>:other-set`` on :data:`OTHER_SET_DATA` instead (PM2.5
    only, its validation days in that period, all of its own validation folds)."""
    base, _, variant = protocol.partition(":")
    period = None
    if variant == OTHER_SET:
        stations, period = _other_set(), OTHER_SET_DATA[1]
        folds = all_folds(stations)
    if variant in (PM25_ONLY, OTHER_SET):
        stations = stations.drop_vars([v for v in AUX_VARS if v in stations.variables])
    elif variant:
        raise ValueError(f"unknown protocol variant {variant!r} in {protocol!r} (known: {PM25_ONLY}, {OTHER_SET})")
    pred, truth = [], []
    for f in folds:
        setup = prepare_evaluation(base, None, None, None, period, None, stations, "val", f)
        scores = score_model(model, setup).scores
        pred += [p.ravel() for p in scores.pred]
        truth += [t.ravel() for t in scores.truth]
    return (np.concatenate(pred), np.concatenate(truth)) if pred else (np.zeros(0), np.zeros(0))


def _val_mae(model, protocol: str, stations: xr.Dataset, folds: Sequence[int] = (0,)) -> float:
    """Validation MAE (µg/m³) of ``model`` on ``protocol``, pooled over the cells of validation station ``folds``
    (see :func:`_val_cells`)."""
    return mae(*_val_cells(model, protocol, stations, folds))


def _write(card: Path, info: dict, stations: xr.Dataset, dataset: str) -> dict:
    info |= {"tuned_on": dataset, "split": SPLIT_NOTE,
             "data_sha256": data_sha256(stations), "commit": git_commit(),
             "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(json.dumps(info, ensure_ascii=False, indent=1))
    return info


def tune_idw(dataset: str = DEFAULT_DATASET, stations: xr.Dataset | None = None,
             protocols: Sequence[str] = IDW_PROTOCOLS, powers: Sequence[float] = POWERS,
             card: Path | None = IDW_CARD, folds: Sequence[int] | None = None) -> dict:
    """Best IDW power per protocol on validation days (``folds``: default all); writes ``card`` unless None."""
    stations = load_stationset(dataset=dataset) if stations is None else stations
    folds = all_folds(stations) if folds is None else folds
    table = {p: {str(w): _val_mae(IDW(w), p, stations, folds) for w in powers} for p in protocols}
    best = {p: float(min(t, key=t.get)) for p, t in table.items()}
    info = {"model": "idw", "power": best.get("mask-50", next(iter(best.values()))), "power_by_protocol": best,
            "val_mae_by_protocol": table, "val_folds": list(folds)}
    return _write(card, info, stations, dataset) if card is not None else info


def tune_logok(dataset: str = DEFAULT_DATASET, stations: xr.Dataset | None = None,
               protocols: Sequence[str] = LOGOK_PROTOCOLS, card: Path | None = LOGOK_CARD,
               folds: Sequence[int] | None = None) -> dict:
    """The logok back-transform with the lower mean validation MAE (``folds``: default all); writes ``card``
    unless it is None."""
    stations = load_stationset(dataset=dataset) if stations is None else stations
    folds = all_folds(stations) if folds is None else folds
    table = {b: {p: _val_mae(LogOrdinaryKriging(backtransform=b), p, stations, folds) for p in protocols}
             for b in BACKTRANSFORMS}
    best = min(table, key=lambda b: sum(table[b].values()))
    info = {"model": "logok", "backtransform": best, "val_mae": table, "val_folds": list(folds)}
    return _write(card, info, stations, dataset) if card is not None else info


@dataclass
class SpinCandidate:
    """One training run's checkpoint, read in near-equal chunks of at most ``chunk_hours`` (None: the trained
    window's chunks) with its kriging init's ``variogram`` (core.contracts.model_spec.VARIOGRAMS), scored on the
    (``ok_k``, ``corr_scale``) grid, and its best setting.

    ``table``: ``{ok_k: {corr_scale: {protocol: {"mae", "logok_mae"}}}}`` (µg/m³, keys as strings); ``run``: the
    ``train --out`` folder, None for the shipped checkpoint."""

    run: Path | None
    table: dict[str, dict[str, dict]]
    chunk_hours: int | None = None
    variogram: str = "trained"

    @staticmethod
    def rank(cell: dict) -> tuple[float, float]:
        """(worst MAE ratio to logok over the protocols, sum of MAE): lower is better, in that order."""
        return max(v["mae"] / v["logok_mae"] for v in cell.values()), sum(v["mae"] for v in cell.values())

    @property
    def best(self) -> tuple[str, str]:
        """(ok_k, corr_scale) keys of the best cell of the grid."""
        return min(((k, s) for k, row in self.table.items() for s in row),
                   key=lambda ks: self.rank(self.table[ks[0]][ks[1]]))

    def summary(self, shipped_root: Path | None) -> dict:
        """The ``checkpoints_tried`` entry: the run, its seed and aux_dropout, best settings and their rank."""
        from core.engine.checkpoint import model_dir
        from core.engine.seed_selection import run_card

        k, s = self.best
        worst, total = self.rank(self.table[k][s])
        rc = run_card("spin", self.run) if self.run is not None else {}
        return {"run": str(self.run) if self.run is not None else str(model_dir("spin", shipped_root).parent),
                "seed": rc.get("seed"), "aux_dropout": rc.get("hparams", {}).get("aux_dropout", 0.0),
                "ok_k": int(k), "corr_scale": float(s), "chunk_hours": self.chunk_hours, "variogram": self.variogram,
                "worst_ratio_to_logok": round(worst, 4),
                "sum_mae": round(total, 3)}


def spin_grid(ckpt_root: Path | None, stations: xr.Dataset, protocols: Sequence[str], ok_k: Sequence[int],
              corr_scale: Sequence[float], folds: Sequence[int], logok_mae: dict[str, float],
              chunk_hours: Sequence[int | None] = (None,),
              variograms: Sequence[str] = ("trained",)) -> dict[tuple[int | None, str], dict]:
    """The validation tables of one spin checkpoint, one per (chunk length, variogram) in ``chunk_hours`` ×
    ``variograms`` (:attr:`SpinCandidate.table`): per ``ok_k`` and variogram one forward pass of the init alone,
    shared by every chunk length (the kriging init is solved hour by hour and a window's variogram is fitted on the
    whole call, so the chunking never reaches it), and one as trained per chunk length; every ``corr_scale``
    follows from the two exactly (:func:`core.nn.models.spin.served_at`)."""
    from core.engine.models import load_learned
    from core.nn.models.spin import SPEC, served_at

    def cells(k: int, scale: float, chunk: int | None, vario: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        model = load_learned(SPEC, root=ckpt_root, inference={"ok_k": int(k), "corr_scale": scale,
                                                               "chunk_hours": chunk, "variogram": vario})
        return {p: _val_cells(model, p, stations, folds) for p in protocols}

    tables: dict[tuple[int | None, str], dict] = {(ch, v): {} for v in variograms for ch in chunk_hours}
    for k in ok_k:
        for v in variograms:
            init_only = cells(k, 0.0, chunk_hours[0], v)
            for ch in chunk_hours:
                trained = cells(k, 1.0, ch, v)
                for s in corr_scale:
                    tables[ch, v].setdefault(str(int(k)), {})[str(float(s))] = {
                        p: {"mae": mae(served_at(init_only[p][0], trained[p][0], s), init_only[p][1]),
                            "logok_mae": logok_mae[p]} for p in protocols}
    return tables


def resolve_runs(runs: Sequence[Path | str], shipped: Path) -> list[Path]:
    """The folders of ``tune --run`` values: :data:`SHIPPED_RUN` names ``shipped`` (the folder that holds the shipped
    ``spin/``, as a run's folder does), anything else is a ``train --out`` folder. A relative ``shipped`` that is also
    a folder here is refused: the command line cannot tell ``./shipped`` from the name."""
    out = []
    for r in runs:
        if str(r) != SHIPPED_RUN:
            out.append(Path(r))
            continue
        if Path(SHIPPED_RUN).is_dir() and Path(SHIPPED_RUN).resolve() != shipped.resolve():
            raise InvalidRequest(f"--run {SHIPPED_RUN} names the shipped checkpoint ({shipped}), but a folder "
                                 f"'{SHIPPED_RUN}' exists here too ({Path(SHIPPED_RUN).resolve()}). Give that "
                                 "folder's absolute path to tune it as a run, or rename it.")
        out.append(shipped)
    return out


SPIN_RULE = "lowest worst-case validation MAE ratio to logok over the protocols (ties: sum of MAE)"


def tune_summary(block: dict) -> dict:
    """A card's ``inference`` block in brief, for the ``earlier_tunes`` of a later tune of the same checkpoint: when,
    what it chose and what it tried (a retune records only its own grid in ``val_mae``)."""
    grid = block.get("val_mae") or {}
    hp = block.get("hparams") or {}
    cell = (grid.get(str(hp.get("ok_k"))) or {}).get(str(float(hp["corr_scale"]))) if "corr_scale" in hp else None
    return {"created": block.get("created"), "commit": block.get("commit"), "hparams": hp,
            "ok_k_tried": [int(k) for k in grid],
            "corr_scale_tried": sorted({float(s) for row in grid.values() for s in row}),
            "chunk_hours_tried": block.get("chunk_hours_tried"), "variograms_tried": block.get("variograms_tried"),
            "worst_ratio_to_logok": round(SpinCandidate.rank(cell)[0], 4) if cell else None}


def compared_runs(block: dict) -> dict:
    """The runs an ``inference`` block's tune compared (its ``checkpoints_tried`` in brief: run, seed, settings, worst
    ratio) and when (``checkpoints_compared``, else the block's own date), for its ``earlier_tunes`` entry once a
    later comparison of runs replaces them on the card."""
    keep = ("run", "seed", "ok_k", "corr_scale", "chunk_hours", "variogram", "worst_ratio_to_logok")
    return {"runs_compared": [{k: t.get(k) for k in keep} for t in block.get("checkpoints_tried") or []],
            "runs_compared_at": block.get("checkpoints_compared") or block.get("created")}


def tune_spin(dataset: str = DEFAULT_DATASET, stations: xr.Dataset | None = None,
              protocols: Sequence[str] = SPIN_PROTOCOLS, ok_k: Sequence[int] = SPIN_OK_K,
              corr_scale: Sequence[float] = SPIN_CORR_SCALES, root: Path | None = None,
              runs: Sequence[Path] = (), write: bool = True, folds: Sequence[int] | None = None,
              chunk_hours: Sequence[int | None] = SPIN_CHUNK_HOURS,
              variograms: Sequence[str] = SPIN_VARIOGRAMS) -> dict:
    """spin's checkpoint and (``ok_k``, ``corr_scale``, ``chunk_hours``, ``variogram``) with the lowest worst-case
    validation MAE ratio to logok.

    Without ``runs`` the shipped checkpoint (``root``, default assets/models) is tuned. With ``runs`` (folders
    given to ``train --out``, or :data:`SHIPPED_RUN` for the shipped checkpoint itself) every run's checkpoint is
    scored on the same grid and the best (run, settings) is shipped to ``root``
    (:func:`core.engine.seed_selection.ship_run`). Writes the card's ``inference`` block; its ``val_mae`` is the
    shipped checkpoint's :attr:`SpinCandidate.table` at the chosen ``chunk_hours`` and ``variogram``,
    ``checkpoints_tried`` the best of every run, chunk length and variogram. MAE is pooled over
    validation ``folds`` (default all).
    """
    from core.engine.checkpoint import INFERENCE_FORMAT, model_dir
    from core.engine.models import get_model
    from core.engine.seed_selection import run_card, ship_run
    from core.nn.models.spin import SPEC

    run_list = resolve_runs(runs, model_dir("spin", root).parent) or [None]  # a bad --run fails before any pass
    stations = load_stationset(dataset=dataset) if stations is None else stations
    folds = all_folds(stations) if folds is None else folds
    logok = get_model("logok", calibrated=False)  # same hidden sets, hours and stations as spin's runs
    ref = {p: _val_mae(logok, p, stations, folds) for p in protocols}
    candidates = [SpinCandidate(r, table, ch, v) for r in run_list
                  for (ch, v), table in spin_grid(root if r is None else r, stations, protocols, ok_k, corr_scale,
                                                  folds, ref, tuple(chunk_hours), tuple(variograms)).items()]
    tried = [c.summary(root) for c in candidates]
    pick = min(range(len(tried)), key=lambda i: (tried[i]["worst_ratio_to_logok"], tried[i]["sum_mae"]))
    chosen_run, table = candidates[pick].run, candidates[pick].table
    chosen = {"ok_k": tried[pick]["ok_k"], "corr_scale": tried[pick]["corr_scale"],
              "chunk_hours": tried[pick]["chunk_hours"], "variogram": tried[pick]["variogram"]}
    card_path = model_dir("spin", root) / "card.json"
    # read before shipping overwrites it: when a run re-chosen is the checkpoint shipped already, its tunes go on
    shipped = json.loads(card_path.read_text()) if card_path.is_file() else {}
    if chosen_run is None:  # the shipped checkpoint itself
        card = shipped
    elif write:
        card = ship_run("spin", chosen_run, run_list, root,
                        f"{SPIN_RULE}, each run at its best inference settings (tune)")
    else:
        card = run_card("spin", chosen_run)
    earlier = next((c["inference"] for c in (shipped, card) if c.get("inference")
                    and c["inference"].get("model_sha256") == card.get("model_sha256")), {})
    # every earlier tune of this very checkpoint, oldest first: a retune's own grid does not show what they settled
    history = [*earlier.get("earlier_tunes", []), tune_summary(earlier)] if earlier else []
    if runs and earlier.get("checkpoints_tried"):
        # this comparison of runs replaces the card's record of the last one (checkpoints_tried, seeds_tried):
        # that one stays, in brief, with the tune it belongs to
        history[-1] = history[-1] | compared_runs(earlier)
    if runs:
        compared, compared_at = tried, None
    elif earlier.get("checkpoints_tried"):
        # the shipped checkpoint retuned alone: its runs were compared by an earlier tune, whose table stays the record
        compared = earlier["checkpoints_tried"]
        compared_at = earlier.get("checkpoints_compared") or earlier.get("created")
    else:
        compared, compared_at = None, None
    trained = {k: card.get("hparams", {}).get(k, SPEC.defaults.get(k)) for k in chosen}
    trained["chunk_hours"] = card.get("hparams", {}).get("predict", SPEC.defaults["predict"])
    trained["variogram"] = "trained"
    block = {"format": INFERENCE_FORMAT, "model_sha256": card.get("model_sha256"), "hparams": chosen,
             "trained_with": trained, "rule": SPIN_RULE, "protocols": list(protocols), "val_mae": table,
             "chunk_hours_tried": list(chunk_hours), "variograms_tried": list(variograms),
             "checkpoints_tried": compared, "checkpoints_compared": compared_at, "earlier_tunes": history,
             "tuned_on": dataset,
             "split": SPLIT_NOTE, "val_folds": list(folds), "data_sha256": data_sha256(stations),
             "commit": git_commit(), "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if write:
        card["inference"] = block
        card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return {"model": "spin", **chosen, "val_mae": table, "checkpoints_tried": tried, "inference": block}
