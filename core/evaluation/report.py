"""The README results section, regenerated from ``assets/metrics/*.json`` (never typed by hand).

Reads every evaluation report (JSON with ``model`` and ``protocol``), ``ablations*.json`` and
``bench.json``, and renders Markdown tables: the masking curve (MAE mean ± std over seeds for
mask-30…90), holdout / sparse-30km, seasons (holdout and mask-50), ablations and speed.
Only the text between :data:`START` and :data:`END` in README.md is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.contracts.seasons import SEASONS
from core.engine.seed_selection import run_folder
from core.errors import CorruptFile
from core.evaluation.fold_pooling import pool_validation

START = "<!-- results:start -->"
END = "<!-- results:end -->"
MASKS = ("mask-30", "mask-50", "mask-70", "mask-90")
PROTOCOL_ORDER = ("holdout", *MASKS, "sparse-30km")
BASELINE_ORDER = ("idw", "ok", "logok", "knn", "linear", "ignnk")


def load_reports(metrics_dir: Path) -> tuple[list[dict], list[tuple[str, dict]], dict | None]:
    """(evaluation reports, [(file stem, ablation json)], bench json or None) found in ``metrics_dir``."""
    evals, ablations, bench = [], [], None
    for f in sorted(Path(metrics_dir).glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as err:
            raise CorruptFile(
                f"{f}: line {err.lineno}: not valid JSON ({err.msg}); regenerate it with the CLI.") from None
        if f.name == "bench.json":
            bench = data
        elif f.name.startswith("ablations"):
            ablations.append((f.stem, data))
        elif isinstance(data, dict) and "model" in data and "protocol" in data:
            data["_file"] = f.name
            evals.append(data)
    return evals, ablations, bench


def _fmt(x, nd: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _mean_std(runs: list[dict]) -> str:
    maes = [r["mae"] for r in runs if r.get("mae") is not None]
    if not maes:
        return "–"
    return f"{np.mean(maes):.2f} ± {np.std(maes):.2f}" if len(maes) > 1 else f"{maes[0]:.2f}"


def _rows(evals: list[dict], protocol: str, split: str = "test") -> dict[str, dict]:
    """model name → {"metrics", "runs", "by_season", "ratio"} for ``protocol`` on ``split`` (evaluated models
    first, then baselines taken from the first report that holds them)."""
    out: dict[str, dict] = {}
    reps = [e for e in evals if e["protocol"] == protocol and e.get("split", "test") == split]
    for e in reps:
        out[e["model"]] = {"metrics": e["metrics"], "runs": e["runs"], "by_season": e.get("by_season", {}),
                           "ratio": e.get("ratio_to_idw"), "test_stations": e.get("test_stations", [])}
    for e in reps:
        idw = (e.get("baselines", {}).get("idw") or {}).get("mae")
        for name, b in e.get("baselines", {}).items():
            if name in out or "error" in b:
                continue
            out[name] = {"metrics": b, "runs": b.get("runs", []), "by_season": b.get("by_season", {}),
                         "ratio": (b["mae"] / idw) if idw and b.get("mae") is not None else None}
    idw = (out.get("idw") or {}).get("metrics", {}).get("mae")
    for r in out.values():  # a report run without baselines: IDW of the same protocol (same hidden sets)
        if r["ratio"] is None and idw and r["metrics"].get("mae") is not None:
            r["ratio"] = r["metrics"]["mae"] / idw
    order = [m for m in out if m not in BASELINE_ORDER] + [m for m in BASELINE_ORDER if m in out]
    return {m: out[m] for m in order}


def masking_table(evals: list[dict], split: str = "test") -> str:
    per = {p: _rows(evals, p, split) for p in MASKS}
    models = list(dict.fromkeys(m for p in MASKS for m in per[p]))
    if not models:
        return ""
    lines = ["| model | " + " | ".join(f"{p[5:]} % hidden" for p in MASKS) + " |",
             "|---|" + "---|" * len(MASKS)]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(_mean_std(per[p][m]["runs"]) if m in per[p] else "–" for p in MASKS)
                     + " |")
    return "\n".join(lines)


def _coverage(mt: dict) -> str:
    """"0.90 (54.3)": empirical coverage of the interval and its mean width in µg/m³; "–" without one."""
    if mt.get("coverage") is None:
        return "–"
    return f"{mt['coverage']:.3f} ({mt['interval_width']:.1f})"


def protocol_table(evals: list[dict], protocol: str, split: str = "test") -> str:
    rows = _rows(evals, protocol, split)
    if not rows:
        return ""
    level = next((r["metrics"].get("level") for r in rows.values() if r["metrics"].get("level")), 0.9)
    lines = [f"| model | MAE | RMSE | R² | bias | MAE / IDW | {level:.0%} coverage (mean width µg/m³) |",
             "|---|---|---|---|---|---|---|"]
    for m, r in rows.items():
        mt = r["metrics"]
        lines.append(f"| {m} | {_fmt(mt.get('mae'))} | {_fmt(mt.get('rmse'))} | {_fmt(mt.get('r2'), 3)} | "
                     f"{_fmt(mt.get('bias'))} | {_fmt(r['ratio'])} | {_coverage(mt)} |")
        own = mt.get("own_interval") or {}
        if own.get("coverage") is not None:  # e.g. log-OK's kriging-variance interval: the yardstick for the width
            lines.append(f"| {m}, own interval (uncalibrated) | | | | | | {_coverage(own)} |")
    return "\n".join(lines)


def _bracket(x: dict | None, key: str) -> str:
    """"0.906 [0.871, 0.940]": a figure and its station-bootstrap interval; "–" without one."""
    return "–" if not x else f"{x[key]:.3f} [{x['lo']:.3f}, {x['hi']:.3f}]"


def bootstrap_table(evals: list[dict], model: str = "spin", path_evals: Sequence[dict] = (),
                    split: str = "test") -> str:
    """Per protocol of ``model`` on ``split``: its MAE / IDW and / logok and its interval's coverage, each with a
    95 % station-bootstrap interval (:mod:`core.evaluation.station_bootstrap`; reports with per-station sums
    only; validation reports pooled over their folds first)."""
    from core.evaluation.station_bootstrap import LEVEL, N_BOOT, SEED, report_intervals

    reps = [e for e in evals if e["model"] == model and e.get("split", "test") == split and e.get("by_station")]
    reps = sorted(reps, key=lambda e: PROTOCOL_ORDER.index(e["protocol"]) if e["protocol"] in PROTOCOL_ORDER
                  else len(PROTOCOL_ORDER))
    reps += [e | {"protocol": f"{e['protocol']}, `--path …/{Path(str(e['dataset'])).name}`"} for e in path_evals
             if e["model"] == model and e.get("by_station")]
    if not reps:
        return ""

    lines = [f"{LEVEL:.0%} intervals from {N_BOOT} resamples of the scored stations (seed {SEED}; a station's hours "
             f"stay together, ratios resample the same stations for both models).", "",
             f"| protocol | stations | {model} / IDW | {model} / logok | coverage of the "
             f"{reps[0]['metrics'].get('level') or 0.9:.0%} interval |", "|---|---|---|---|---|"]
    for e in reps:
        iv = report_intervals(e)
        lines.append(f"| {e['protocol']} | {len(e['by_station'])} | {_bracket(iv['ratio_to']['idw'], 'ratio')} | "
                     f"{_bracket(iv['ratio_to']['logok'], 'ratio')} | {_bracket(iv['coverage'], 'coverage')} |")
    return "\n".join(lines)


def season_table(evals: list[dict], protocol: str) -> str:
    rows = _rows(evals, protocol)
    if not rows:
        return ""
    lines = ["| model | " + " | ".join(SEASONS) + " |", "|---|" + "---|" * len(SEASONS)]
    for m, r in rows.items():
        lines.append(f"| {m} | " + " | ".join(_fmt((r["by_season"].get(s) or {}).get("mae")) for s in SEASONS) + " |")
    return "\n".join(lines)


def _ablation_entries(data) -> list[tuple[str, dict]]:
    """Variant name → metrics dict, from the shapes an ablation file may take."""
    if isinstance(data, dict) and isinstance(data.get("variants"), dict):
        data = data["variants"]
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = [(d.get("variant") or d.get("name") or str(i), d) for i, d in enumerate(data) if isinstance(d, dict)]
    else:
        return []
    out = []
    for name, v in items:
        if isinstance(v, dict):
            m = v.get("metrics", v)
            if isinstance(m, dict) and "mae" in m:
                out.append((str(name), m | {"ratio_to_idw": v.get("ratio_to_idw", m.get("ratio_to_idw"))}))
    return out


def ablation_table(ablations: list[tuple[str, dict]], split: str = "test") -> str:
    """Ablation variants of the files whose ``split`` is ``split`` (files without one were scored on test days)."""
    rows = [(stem, n, m) for stem, d in ablations
            if (d.get("split", "test") if isinstance(d, dict) else "test") == split for n, m in _ablation_entries(d)]
    if not rows:
        return ""
    arch = {stem: (d.get("arch") if isinstance(d, dict) else None) or "not recorded" for stem, d in ablations}
    lines = ["| file | architecture | variant | MAE | RMSE | MAE / IDW | trainer val MAE | training steps |",
             "|---|---|---|---|---|---|---|---|"]
    for stem, n, m in rows:
        val = m.get("val") if isinstance(m.get("val"), dict) else {}  # the variant's own early-stopping record
        steps = val.get("steps_run")
        lines.append(f"| {stem} | {arch[stem]} | {n} | {_fmt(m.get('mae'))} | {_fmt(m.get('rmse'))} | "
                     f"{_fmt(m.get('ratio_to_idw'))} | {_fmt(val.get('val_mae'))} | "
                     f"{steps if steps is not None else ''} |")
    return "\n".join(lines)


def speed_table(bench: dict | None) -> str:
    if not bench:
        return ""
    # the load average travels with the figures: on the shared 2-core machine it moves them more than most changes
    load = bench.get("load_average_1min")
    lines = ["| spin 24 h, stations + 0.05° grid (s) | ordinary kriging, same (s) | speed-up | load average (1 min) |",
             "|---|---|---|---|",
             f"| {_fmt(bench.get('spin_s'), 3)} | {_fmt(bench.get('ok_s'), 3)} | {_fmt(bench.get('ratio'), 1)}× | "
             f"{_fmt(load, 2) if load is not None else ''} |"]
    return "\n".join(lines)


def reanalysis_table(metrics_dir: Path) -> str:
    """Batch reanalysis benchmark (``python -m core.reanalysis.bench``): national and 1 km tiles, 1 vs N
    workers, memory vs tile count, and the national 1 km projection from the measured per-tile cost."""
    f = Path(metrics_dir) / "reanalysis_bench.json"
    if not f.exists():
        return ""
    b = json.loads(f.read_text())
    if "national" not in b:  # a benchmark file from before tiles: nothing comparable to show
        return ""
    lines = ["| case | grid (cells) | hours | tiles (in domain) | run | wall (s) | cell-hours/s | "
             "per worker | s per item | peak RSS per worker (MB) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, label in (("national", "China"), ("bth_1km", "BTH box, 1 km")):
        c = b[name]
        sp = c["spec"]
        head = (f"{label}, {sp['model']} {sp['res']}°, {sp['start'][:13]}h", f"{c['grid'][0]}×{c['grid'][1]} "
                f"({c['cells_in_domain']:,} in domain)", str(c["hours"]), f"{c['items']} ({c['items_in_domain']})")
        for r in c["runs"]:
            lines.append(f"| {' | '.join(head)} | {r['mode']} | {r['wall_s']} | {r['cell_hours_per_s']:,} | "
                         f"{r['cell_hours_per_s_per_worker']:,} | {r['s_per_item_per_worker']} | "
                         f"{r['peak_rss_mb_per_worker']} |")
    var = ", ".join(b["bth_1km"].get("variables", ["pm25"]))
    lines += ["", f"Variables written: {var}. Cell-hours count domain cells only; the single-process rows exclude "
              "the data load (paid once per worker), the Dask rows include each worker's load."]
    month = b["national"].get("month_projection")
    if month:
        lines += ["", f"A month ({month[0]['month_hours']} h) of the national case, projected from the measured "
                  f"{month[0]['from_measured_hours']} h (not run; every time block is the same items): " + "; ".join(
                      f"{m['mode']} {m['projected_wall_h']} h" for m in month) + "."]
    ratio = b.get("throughput_per_worker_national_over_bth")
    if ratio:
        lines += ["", "Throughput per worker, national 0.1° over BTH 1 km (goal ≥ 0.8): " + "; ".join(
            f"{mode} {r['cell_hours_per_s_per_worker']:.2f} in cell-hours/s ({r['s_per_item_bth_over_national']:.2f} "
            "in seconds per item)" for mode, r in ratio.items()) + ". National tiles are partly outside the boundary, "
            "so an item holds fewer domain cells."]
    mem = b.get("memory_vs_tiles")
    if mem and "peak_rss_mb_while_items_run" in mem[0]:
        lines += ["", "Memory of one process vs tile count (same tile, 1 km): " + "; ".join(
            f"{m['tiles']} tile(s) {m['peak_rss_mb_while_items_run']:,} MB peak while the items run "
            f"({m['rss_mb_after_data_load']:,} MB after loading data and model)" for m in mem) + "."]
    elif mem:
        lines += ["", "Peak memory of one process vs tile count (same tile, 1 km): " + "; ".join(
            f"{m['tiles']} tile(s) {m['peak_rss_mb']} MB" for m in mem) + " (after loading the data, before any item: "
            + ", ".join(str(m.get("peak_rss_mb_after_data_load", "?")) for m in mem) + " MB)."]
    n = b.get("national_1km")
    if n:
        p = n["projection"]
        lines += ["", f"Projection, national 1 km hourly year ({n['cells_in_domain']:,} domain cells of "
                  f"{n['cells']:,}; {n['tiles_in_domain']:,} of {n['tiles']:,} tiles of {n['tile_cells']}×"
                  f"{n['tile_cells']} cells touch the domain; {p['items']:,} items of {p['block_hours']} h), from "
                  f"the measured {p['s_per_item']} s per item and worker: {p['worker_hours']:,} worker-hours = "
                  f"{p['hours_with_8_workers']} h on 8 workers, {p['hours_with_32_workers']} h on 32, "
                  f"{p['hours_with_128_workers']} h on 128; {p['storage_tb_raw_float32']} TB raw float32; "
                  f"memory per worker ≈ {p['memory_per_worker_mb']:,} MB (one item, whatever the grid size)."]
    m = b.get("machine")
    if m:
        start = m.get("load_average_at_start")
        lines += ["", f"Measured on {m['cpu_count']} CPUs / {m['mem_gb']} GB shared, load average "
                  + (f"{', '.join(str(x) for x in start)} at the start, " if start else "")
                  + f"{', '.join(str(x) for x in m['load_average'])} at the end (1, 5, 15 min)."]
    return "\n".join(lines)


def where_chosen(folds: list[int] | None) -> str:
    """Which validation stations a choice was scored on: every station fold, or ``S_val`` (fold 0) alone."""
    if folds and len(folds) > 1:
        return f"scored on validation station folds {', '.join(map(str, folds))} pooled"
    return "scored on S_val alone"


def choices_note(metrics_dir: Path) -> str:
    """Which settings were chosen on validation days (from the shipped cards and interval tables)."""
    models = Path(metrics_dir).parent / "models"
    lines = []

    def card(name: str, file: str = "card.json") -> dict:
        try:
            return json.loads((models / name / file).read_text())
        except (OSError, ValueError):
            return {}

    idw = card("idw")
    if idw.get("power_by_protocol"):
        powers = idw["power_by_protocol"].items()
        lines.append("- IDW power per protocol: " + ", ".join(f"{p} {w:g}" for p, w in powers)
                     + f"; {where_chosen(idw.get('val_folds'))}.")
    if card("logok").get("backtransform"):
        lines.append(f"- logok back-transform: `{card('logok')['backtransform']}` (lower validation MAE"
                     f"; {where_chosen(card('logok').get('val_folds'))}).")
    cal = sorted(p.parent.name for p in models.glob("*/intervals.json"))
    if cal:
        lv = card(cal[0], "intervals.json").get("level", 0.9)
        lines.append(f"- {lv:.0%} intervals (normalized split conformal on validation days at hidden non-test "
                     f"stations: log error / a local scale in nearest and third-nearest observed distance, "
                     f"predicted level, neighbour spread and season; one quantile pair for every distance unless it "
                     f"misses a distance band on held-out stations): "
                     + ", ".join(f"{m} ({where_chosen(card(m, 'intervals.json').get('meta', {}).get('val_folds'))})"
                                 for m in cal) + ".")
    spin = card("spin")
    seeds_tried = spin.get("seeds_tried") or []  # written by `core select`
    inf = spin.get("inference") or {}
    by_tune = inf.get("checkpoints_tried") or []
    if by_tune:
        # a run is its folder (two runs may share a seed); cards before 2026-12-05 name it <run>/spin in seeds_tried
        by_run = {run_folder(t["run"], "spin"): t for t in seeds_tried if t.get("run")}
        by_seed = {t.get("seed"): t.get("hparams") or {} for t in seeds_tried}

        def how(t: dict) -> str:
            entry = by_run.get(run_folder(t["run"], "spin"), {}) if t.get("run") else {}
            # training time is no hyper-parameter, but two runs of one recipe may differ in it (a time cap)
            took = entry.get("train_minutes")
            hp = entry.get("hparams") or by_seed.get(t["seed"]) or {"aux_dropout": t.get("aux_dropout", 0.0)}
            return recipe_text(hp) + (f", {took:.1f} min" if took is not None else "")

        def reading(t: dict) -> str:  # how the run's windows were read: chunk length and variogram
            return (f", chunk_hours {t['chunk_hours']}" if t.get("chunk_hours") else "") + (
                f", variogram {t['variogram']}" if t.get("variogram") else "")

        runs = "; ".join(f"seed {t['seed']}, {how(t)}: {t['worst_ratio_to_logok']:.4f} (ok_k {t['ok_k']}, "
                         f"corr_scale {t['corr_scale']}{reading(t)})" for t in by_tune)
        runs += f"; {where_chosen(inf.get('val_folds'))}"
        if inf.get("checkpoints_compared"):  # the checkpoint alone retuned since: its runs were compared then
            runs += (f"; runs compared by the tune of {str(inf['checkpoints_compared'])[:10]}, the settings below "
                     f"retuned on the shipped checkpoint alone")
        lines.append(f"- spin checkpoint: seed {spin.get('chosen_seed', spin.get('seed'))}, chosen by `tune` among "
                     f"training runs by the worst validation MAE ratio to logok at each run's best settings: {runs}.")
    elif seeds_tried:
        runs = ", ".join(f"{t['seed']} ({t['val_mae']:.2f})" for t in seeds_tried)
        lines.append(f"- spin checkpoint: seed {spin.get('chosen_seed', spin.get('seed'))}, the lowest validation MAE "
                     f"(µg/m³, trainer's fixed hidden sets) among seeds {runs}.")
    hp = inf.get("hparams") or {}
    if hp.get("ok_k") is not None:
        grid = inf.get("val_mae", {})
        tried_k = ", ".join(grid)
        trained = inf.get("trained_with") or {}
        rule = (f"lowest worst-case validation MAE ratio to logok over {', '.join(inf.get('protocols', []))}"
                f"; {where_chosen(inf.get('val_folds'))}")
        if hp.get("corr_scale") is None:
            lines.append(f"- spin kriging-init neighbours `ok_k`: {hp['ok_k']} (trained with {trained.get('ok_k')}; "
                         f"tried {tried_k}; {rule}).")
        else:
            tried_s = ", ".join(sorted({s for row in grid.values() for s in row}, key=float))
            chunk = ""
            if hp.get("chunk_hours"):
                tried_c = inf.get("chunk_hours_tried") or [hp["chunk_hours"]]
                chunk = (f", longest inference chunk `chunk_hours` {hp['chunk_hours']} h (a window is read in "
                         f"near-equal chunks; trained on {trained.get('chunk_hours')}-h windows; tried "
                         f"{', '.join(map(str, tried_c))})")
            if hp.get("variogram"):
                tried_v = inf.get("variograms_tried") or [hp["variogram"]]
                chunk += (f", kriging-init variogram `variogram` {hp['variogram']} (`trained`: fitted on training "
                          f"days; `window`: refitted on each inference window's observed stations; `auto`: refitted "
                          f"only on a window whose observed stations span less than the trained range; tried "
                          f"{', '.join(tried_v)})")
            lines.append(f"- spin inference settings, one grid: kriging-init neighbours `ok_k` {hp['ok_k']} "
                         f"(trained with {trained.get('ok_k')}; tried {tried_k}), share of the learned correction "
                         f"served `corr_scale` {hp['corr_scale']} (trained at 1; tried {tried_s}){chunk}; {rule}.")
        if inf.get("earlier_tunes"):
            lines.append("- Earlier tunes of this checkpoint, same rule (a retune's grid above shows only its own "
                         "candidates): " + "; ".join(_earlier_tune(t) for t in inf["earlier_tunes"]) + ".")
    from core.evaluation.selection import rank_models, validation_reports

    vals = validation_reports(metrics_dir, "mask-50")
    rank = rank_models(vals)
    if rank:
        lines.append(f"- Dashboard default model: `{rank[0]}` (lowest validation MAE on mask-50 among "
                     f"{', '.join(rank)}; {val_scope(vals)}).")
    lines.append("- Everything else in the tables above was scored on test days after these choices.")
    return "\n".join(lines) if len(lines) > 1 else ""


# what None means for these hyper-parameters (loo_inputs: a card written before the flag existed, so without it)
UNSET = {"train_margin_deg": "all", "subnet_size": "whole graph", "loo_inputs": "False"}


def _earlier_tune(t: dict) -> str:
    """One ``earlier_tunes`` entry (core.evaluation.tuning.tune_summary) in words."""
    hp = t.get("hparams") or {}
    chose = ", ".join(f"{k} {v}" for k, v in hp.items() if v is not None)
    tried = [f"{label} {', '.join(map(str, t[key]))}" for key, label in (
        ("ok_k_tried", "ok_k"), ("variograms_tried", "variogram"), ("chunk_hours_tried", "chunk_hours")) if t.get(key)]
    worst = f"; worst ratio {t['worst_ratio_to_logok']:.4f}" if t.get("worst_ratio_to_logok") is not None else ""
    runs = ""
    if t.get("runs_compared"):  # a comparison of runs that a later one replaced on the card
        runs = (f"; runs compared on {str(t.get('runs_compared_at'))[:10]}: "
                + ", ".join(f"seed {r.get('seed')} {r['worst_ratio_to_logok']:.4f} (variogram {r.get('variogram')})"
                            for r in t["runs_compared"]))
    return f"{str(t.get('created'))[:16].replace('T', ' ')} UTC chose {chose} (tried {'; '.join(tried)}{worst}{runs})"


def recipe_text(hparams: dict) -> str:
    """"aux_dropout 0.25, train_margin_deg all, subnet_size 150": how a training run was set up (``seeds_tried``)."""
    return ", ".join(f"{k} {UNSET.get(k, '–') if v is None else v}" for k, v in hparams.items())


def val_scope(evals: list[dict]) -> str:
    """Which stations the validation tables score: one fold (S_val) or several folds pooled."""
    folds = next((e.get("val_fold") for e in evals if e.get("split") == "val" and e.get("val_fold") is not None), 0)
    if isinstance(folds, list) and len(folds) > 1:
        n = len({s for e in evals if e.get("split") == "val" for s in e.get("val_stations", [])})
        return (f"validation station folds {', '.join(map(str, folds))} each hidden and scored in turn, "
                f"pooled over their cells ({n} stations)")
    return "S_val hidden and scored"


def render(metrics_dir: Path) -> str:
    """The Markdown that goes between the README markers."""
    evals, ablations, bench = load_reports(metrics_dir)
    path_evals = [e for e in evals if e.get("_file", "").startswith("path_")]  # another period / station set
    evals = pool_validation([e for e in evals if e not in path_evals])  # one validation report per protocol
    parts = ["_Generated by `python -m core report` from `assets/metrics/*.json`; do not edit by hand._", ""]
    if evals:
        e0 = evals[0]
        parts += [f"Data `{e0['dataset']}`; hourly PM2.5 MAE etc. in µg/m³ on the held-out test stations "
                  f"({len(e0.get('test_stations', []))} stations: {', '.join(e0.get('test_stations', []))}), "
                  f"{e0['times'].get('rule', '')} {e0['times'].get('start', '')} … {e0['times'].get('end', '')} "
                  f"({e0['times'].get('count', '')} h). Every model and baseline sees the same hidden sets.", ""]
    sections = [
        ("Masking curve (MAE, mean ± std over seeds)", masking_table(evals)),
        ("Holdout (S_test hidden, everything else observed)", protocol_table(evals, "holdout")),
        ("mask-50", protocol_table(evals, "mask-50")),
        ("sparse-30km (target and every station within 30 km hidden)", protocol_table(evals, "sparse-30km")),
        ("Sampling noise of the test figures (station bootstrap)", bootstrap_table(evals, "spin", path_evals)),
        ("Sampling noise of the validation figures (station bootstrap, folds pooled)",
         bootstrap_table(evals, "spin", split="val")),
        ("Seasons, holdout (MAE)", season_table(evals, "holdout")),
        ("Seasons, mask-50 (MAE)", season_table(evals, "mask-50")),
        ("Ablations on validation days (where the design was chosen)", ablation_table(ablations, "val")),
        ("Ablations on test days (reported only, not used for choices)", ablation_table(ablations, "test")),
        (f"Validation days, mask-50 (S_test removed; {val_scope(evals)}; model selection)",
         protocol_table(evals, "mask-50", "val")),
        ("Validation days, holdout", protocol_table(evals, "holdout", "val")),
        ("Validation days, sparse-30km", protocol_table(evals, "sparse-30km", "val")),
        ("Chosen on validation days", choices_note(metrics_dir)),
        (f"Another period and station set (`--path …/{Path(str(path_evals[0]['dataset'])).name}`, holdout, "
         "every hour scored)"
         if path_evals else "", protocol_table(path_evals, "holdout")),
        ("Speed", speed_table(bench)),
        ("Batch reanalysis (Dask)", reanalysis_table(metrics_dir)),
    ]
    for title, table in sections:
        if table:
            parts += [f"#### {title}", "", table, ""]
    if len(parts) <= 2:
        parts.append("No evaluation report yet: run `python -m core evaluate ... "
                     "--json assets/metrics/<model>_<protocol>.json`.")
    return "\n".join(parts).rstrip() + "\n"


def update_readme(readme: Path, body: str) -> bool:
    """Replace the text between the markers (appending the markers if absent); True if the file changed."""
    text = readme.read_text() if readme.exists() else ""
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    a = text.index(START) + len(START)
    b = text.index(END)
    if b < a:
        raise CorruptFile(f"{readme}: '{END}' comes before '{START}'; fix the markers by hand.")
    new = text[:a] + "\n" + body + text[b:]
    if new != text:
        readme.write_text(new)
    return new != text
