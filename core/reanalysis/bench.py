"""Reanalysis benchmark: wall time, throughput and peak memory per worker, 1 vs N workers, memory vs
tile count, and the national 1 km projection from the measured per-tile cost.

``python -m core.reanalysis.bench --model spin --dataset cnemc_china_2019`` runs the real
``reanalyze`` workflow (fresh store each time) on two cases sized for a shared 2-core machine:

- ``national``: China at 0.1°, masked to the national boundary (one tile per 100 × 100 cells), one day
  (``--national-hours``); a month is projected from it (items scale with the time blocks), not run;
- ``bth_1km``: a box of BTH at 0.01° (~1 km) of ``--bth-tiles`` × ``--bth-tiles`` 100 × 100-cell tiles,
  one day, the national network as input — exactly the work item of a national 1 km run;

then runs one-process reanalyses over 1, 4, 9, 16 such tiles in fresh processes to show that peak
memory does not grow with the tile count, and writes ``assets/metrics/reanalysis_bench.json``.
Peak memory is sampled every 0.2 s per process (the Dask workers, or the single process itself).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from core.paths import METRICS_DIR
from core.reanalysis.domain import CHINA_BBOX, cell_mask, mask_for
from core.reanalysis.tiles import DEFAULT_TILE_CELLS, tiles
from core.reanalysis.work import ReanalysisSpec, model_for, plan, stations_for
from core.reanalysis.workflow import run_dask, run_local

NATIONAL_RES = 0.01  # ~1 km
MONTH_HOURS = 31 * 24  # January 2019, the month the issue asks for
BTH_1KM_ORIGIN = (115.5, 39.0)  # SW corner of the 1 km boxes (Beijing–Baoding–Langfang)


class PeakRSS:
    """Sample the RSS (bytes) of this process and each descendant until stopped; keep each one's peak."""

    def __init__(self, every: float = 0.2) -> None:
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for p in [me, *me.children(recursive=True)]:
                try:
                    self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), p.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(every)

    def worker_peak(self, single_process: bool) -> int:
        """This process's peak (``single_process``: it is the worker), else the largest child's (Dask workers)."""
        if single_process:
            return self.peaks.get(os.getpid(), 0)
        return max((v for k, v in self.peaks.items() if k != os.getpid()), default=0)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def items_in_domain(spec: ReanalysisSpec) -> int:
    grid = spec.grid()
    return int(sum(cell_mask(spec.mask, it.tile.grid(grid)).any() for it in plan(spec)))


def cells_in_domain(spec: ReanalysisSpec) -> int:
    grid = spec.grid()
    return int(sum(cell_mask(spec.mask, t.grid(grid)).sum() for t in tiles(grid.shape, spec.tile_side())))


def run_case(spec: ReanalysisSpec, workers: int) -> dict:
    """One fresh run (0 = single process without Dask); wall, throughput, per-worker peak memory."""
    load_s = None
    if workers == 0:  # the one process is the worker: load once, untimed (Dask workers' loads are timed)
        t0 = time.perf_counter()
        stations_for(spec.dataset, spec.path), model_for(spec.model)
        load_s = round(time.perf_counter() - t0, 1)
    tmp = Path(tempfile.mkdtemp(prefix="airatlas-bench-"))
    try:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            if workers == 0:
                run_local(spec, tmp / "b.zarr", progress=False)
            else:
                run_dask(spec, tmp / "b.zarr", workers=workers, progress=False)
            wall = time.perf_counter() - t0
        store = sum(f.stat().st_size for f in (tmp / "b.zarr").rglob("*") if f.is_file())
        variables = sorted(p.name for p in (tmp / "b.zarr").iterdir() if p.name.startswith("pm25"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n_t = len(spec.times())
    cells = cells_in_domain(spec)
    w = max(workers, 1)
    return {"workers": workers, "mode": "single process" if workers == 0 else f"dask LocalCluster ({workers})",
            "wall_s": round(wall, 1), "cell_hours_per_s": round(n_t * cells / wall),
            "cell_hours_per_s_per_worker": round(n_t * cells / wall / w),
            "s_per_item_per_worker": round(wall * w / items_in_domain(spec), 2),
            "peak_rss_mb_per_worker": round(mem.worker_peak(workers == 0) / 2**20), "store_mb": round(store / 2**20, 1),
            "variables": variables,
            "data_load_s": load_s if load_s is not None else "inside wall (each worker loads the data)"}


def case(name: str, spec: ReanalysisSpec, workers: list[int]) -> dict:
    ny, nx = spec.grid().shape
    print(f"[bench] {name}: grid {ny}x{nx}, {len(plan(spec))} items", file=sys.stderr, flush=True)
    runs = [run_case(spec, w) for w in workers]
    return {"variables": runs[0]["variables"], "spec": asdict(spec), "grid": [ny, nx],
            "hours": len(spec.times()), "tile_cells": spec.tile_side(),
            "items": len(plan(spec)), "items_in_domain": items_in_domain(spec),
            "cells_in_domain": cells_in_domain(spec), "runs": runs}


MEMORY_PROBE = """
import sys, threading, time
from pathlib import Path
import psutil
from core.reanalysis.work import ReanalysisSpec, model_for, stations_for
from core.reanalysis.workflow import run_local
s = ReanalysisSpec(**{spec!r})
stations_for(s.dataset, s.path); model_for(s.model)
me = psutil.Process()
after_load, peak, done = me.memory_info().rss, [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], me.memory_info().rss); time.sleep(0.1)
t = threading.Thread(target=sample, daemon=True); t.start()
run_local(s, Path({out!r}), progress=False)
done.set(); t.join()
print(after_load, max(peak[0], me.memory_info().rss))
"""


def memory_vs_tiles(base: ReanalysisSpec, sides: list[int]) -> list[dict]:
    """RSS of a one-process reanalysis over k × k tiles, each in a fresh process: after the data and model
    load, and the peak while the items run (sampled every 0.1 s) — what one more tile would add."""
    out = []
    side_deg = base.tile_side() * base.res
    for k in sides:
        w, s = BTH_1KM_ORIGIN
        spec = ReanalysisSpec(**(asdict(base) | {"bbox": (w, s, w + k * side_deg, s + k * side_deg)}))
        tmp = Path(tempfile.mkdtemp(prefix="airatlas-bench-"))
        code = MEMORY_PROBE.format(spec=asdict(spec), out=str(tmp / "m.zarr"))
        try:
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        after_load, peak = (int(v) for v in res.stdout.strip().splitlines()[-1].split())
        out.append({"tiles": len(tiles(spec.grid().shape, spec.tile_side())), "grid": list(spec.grid().shape),
                    "rss_mb_after_data_load": round(after_load / 2**20),
                    "peak_rss_mb_while_items_run": round(peak / 2**20), "wall_s": round(wall, 1)})
        print(f"[bench] memory: {out[-1]}", file=sys.stderr, flush=True)
    return out


def national_tiles(side_cells: int = DEFAULT_TILE_CELLS, probe_deg: float = 0.05) -> dict:
    """Tiles of a national 0.01° grid that hold cells inside the boundary (mask probed every 0.05°)."""
    mask = mask_for("china")
    probe = ReanalysisSpec(model="idw", start="2019-01-01", end="2019-01-01", res=probe_deg, bbox=CHINA_BBOX,
                           mask=mask)
    inside = cell_mask(mask, probe.grid())
    w, s, e, n = CHINA_BBOX
    ny, nx = round((n - s) / NATIONAL_RES), round((e - w) / NATIONAL_RES)
    step = side_cells * NATIONAL_RES / probe_deg  # probe cells per tile side
    iy, ix = np.nonzero(inside)
    touched = {(int(y // step), int(x // step)) for y, x in zip(iy, ix, strict=True)}
    total = -(-ny // side_cells) * -(-nx // side_cells)
    return {"cells": ny * nx, "cells_in_domain": int(round(inside.mean() * ny * nx)), "tiles": total,
            "tiles_in_domain": len(touched), "tile_cells": side_cells, "mask": mask}


def project(national: dict, bth: dict) -> dict:
    """National 1 km hourly year from the measured seconds per (100 × 100-cell tile × block) item at 0.01°
    (the single-process run: its data load is excluded, as a long run pays it once per worker)."""
    one = next((r for r in bth["runs"] if r["workers"] == 0), bth["runs"][0])
    blocks = -(-8760 // bth["hours"])
    items = national["tiles_in_domain"] * blocks
    worker_hours = items * one["s_per_item_per_worker"] / 3600
    out = {"s_per_item": one["s_per_item_per_worker"], "block_hours": bth["hours"], "items": items,
           "worker_hours": round(worker_hours), "cell_hours": national["cells_in_domain"] * 8760,
           "storage_tb_raw_float32": round(national["cells_in_domain"] * 8760 * 4 * len(bth["variables"]) / 1e12, 2),
           "memory_per_worker_mb": max(r["peak_rss_mb_per_worker"] for r in bth["runs"])}
    for n_workers in (8, 32, 128):
        out[f"hours_with_{n_workers}_workers"] = round(worker_hours / n_workers, 1)
    return out


def month_projection(national: dict) -> list[dict]:
    """A month of the national case from the measured day: wall × (month hours / measured hours) — every
    time block is the same number of tile items; the per-worker data load (inside the Dask walls) is counted
    once per block here, so the projection errs long."""
    f = MONTH_HOURS / national["hours"]
    return [{"workers": r["workers"], "mode": r["mode"], "projected_wall_h": round(r["wall_s"] * f / 3600, 2),
             "from_measured_hours": national["hours"], "month_hours": MONTH_HOURS} for r in national["runs"]]


def throughput_ratio(national: dict, bth: dict) -> dict:
    """Cell-hours/s per worker, national 0.1° over BTH 1 km, per run mode (the goal: ≥ 0.8), and the same for
    seconds per item (a national tile is partly outside the boundary: fewer cells per item)."""
    out = {}
    for rn, rb in zip(national["runs"], bth["runs"], strict=True):
        out[rn["mode"]] = {"cell_hours_per_s_per_worker": round(rn["cell_hours_per_s_per_worker"]
                                                               / rb["cell_hours_per_s_per_worker"], 3),
                           "s_per_item_bth_over_national": round(rb["s_per_item_per_worker"]
                                                                 / rn["s_per_item_per_worker"], 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", default="2019-01-10T00:00")
    ap.add_argument("--hours", type=int, default=24, help="hours of the 1 km case (one time block)")
    ap.add_argument("--national-hours", type=int, default=24, help="hours of the national 0.1° case (one block)")
    ap.add_argument("--bth-tiles", type=int, default=3, help="k: the 1 km case is k × k tiles of BTH")
    ap.add_argument("--model", default="spin")
    ap.add_argument("--dataset", default="cnemc_china_2019")
    ap.add_argument("--workers", default="1,2", help="comma list; 0 = single process without Dask")
    ap.add_argument("--memory-sides", default="1,2,3,4", help="k for the k × k-tile memory runs ('' = skip)")
    ap.add_argument("--json", type=Path, default=METRICS_DIR / "reanalysis_bench.json")
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker: workers are the parallelism
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    start = pd.Timestamp(a.start)

    def common(hours: int) -> dict:
        end = (start + pd.Timedelta(hours=hours - 1)).isoformat()
        return {"model": a.model, "start": start.isoformat(), "end": end, "dataset": a.dataset, "block_hours": hours}

    workers = [int(x) for x in a.workers.split(",")]
    if 0 not in workers:
        workers = [0, *workers]  # the single-process run gives the per-item cost of the projection
    w, s = BTH_1KM_ORIGIN
    side_deg = DEFAULT_TILE_CELLS * NATIONAL_RES
    k = a.bth_tiles
    bth_spec = ReanalysisSpec(**common(a.hours), res=NATIONAL_RES, bbox=(w, s, w + k * side_deg, s + k * side_deg))
    national = ReanalysisSpec(**common(a.national_hours), res=0.1, bbox=CHINA_BBOX, mask=mask_for("china"))
    report = {
        "national": case("national", national, workers),
        "bth_1km": case("bth_1km", bth_spec, workers),
    }
    report["national"]["month_projection"] = month_projection(report["national"])
    report["throughput_per_worker_national_over_bth"] = throughput_ratio(report["national"], report["bth_1km"])
    if a.memory_sides:
        report["memory_vs_tiles"] = memory_vs_tiles(bth_spec, [int(k) for k in a.memory_sides.split(",")])
    grid = national_tiles()
    report["national_1km"] = grid | {"projection": project(grid, report["bth_1km"])}
    report["machine"] = {"cpu_count": psutil.cpu_count(), "mem_gb": round(psutil.virtual_memory().total / 2**30),
                         "load_average": [round(x, 2) for x in os.getloadavg()],
                         "load_average_at_start": load_at_start}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
