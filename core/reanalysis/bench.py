"""Reanalysis benchmark: wall time, throughput and peak memory, 1 vs N workers, plus a projection.

``python -m core.reanalysis.bench --start 2019-01-01 --end 2019-12-31 --res 0.05 --model spin``
runs the real ``reanalyze`` workflow (fresh store each time) and writes
``assets/metrics/reanalysis_bench.json``. Peak memory is the largest summed RSS of this process
and all its children (the Dask workers), sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from core.grid import BTH_BBOX
from core.paths import METRICS_DIR
from core.reanalysis.work import ReanalysisSpec, plan
from core.reanalysis.workflow import run_dask, run_local

# China's extent for the national projection (W, S, E, N), and a 1 km ≈ 0.01° grid.
CHINA_BBOX = (73.5, 18.0, 135.1, 53.6)
NATIONAL_RES = 0.01


class PeakRSS:
    """Sample summed RSS (bytes) of this process tree until stopped."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(every)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench(spec: ReanalysisSpec, workers: list[int]) -> dict:
    ny, nx = spec.grid().shape
    n_t = len(spec.times())
    cell_hours = n_t * ny * nx
    runs = []
    store_bytes = None
    for w in workers:
        tmp = Path(tempfile.mkdtemp(prefix="airatlas-bench-"))
        out = tmp / "bench.zarr"
        try:
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                if w == 0:
                    run_local(spec, out)
                else:
                    run_dask(spec, out, workers=w)
                wall = time.perf_counter() - t0
            store_bytes = _du(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        runs.append({"workers": w, "mode": "single process" if w == 0 else f"dask LocalCluster ({w} workers)",
                     "wall_s": round(wall, 1), "cell_hours_per_s": round(cell_hours / wall),
                     "peak_rss_mb": round(mem.peak / 2**20), "items": len(plan(spec))})
    best = min(runs, key=lambda r: r["wall_s"])
    mem = memory_slope(spec)
    return {"memory_model": mem, "spec": spec.__dict__, "grid": [ny, nx], "hours": n_t, "cell_hours": cell_hours,
            "store_mb": round(store_bytes / 2**20, 1), "bytes_per_cell_hour": store_bytes / cell_hours,
            "runs": runs, "projection": project(best, store_bytes / cell_hours, spec, mem)}


def memory_slope(spec: ReanalysisSpec) -> dict:
    """Peak RSS of one work item in a fresh process at two grid sizes → bytes per grid cell (24 h item).

    The slope separates what grows with the tile (surfaces, readout weights) from the fixed cost
    (interpreter, torch, the station data).
    """
    import subprocess
    import sys

    peaks = {}
    for res in (spec.res, spec.res / 4):  # 16x more cells
        s2 = ReanalysisSpec(**(spec.__dict__ | {"res": res}))
        code = ("import resource; from core.reanalysis.work import ReanalysisSpec, plan, run_item; "
                f"s = ReanalysisSpec(**{s2.__dict__!r}); run_item(s, plan(s)[0]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        ny, nx = s2.grid().shape
        peaks[ny * nx] = int(out.stdout.strip().splitlines()[-1]) * 1024
    (c1, m1), (c2, m2) = sorted(peaks.items())
    slope = max((m2 - m1) / (c2 - c1), 0.0)
    return {"cells": [c1, c2], "peak_rss_mb": [round(m1 / 2**20), round(m2 / 2**20)],
            "bytes_per_cell_per_item": round(slope), "fixed_mb": round((m1 - slope * c1) / 2**20)}


def project(best: dict, bytes_per_cell_hour: float, spec: ReanalysisSpec, mem: dict) -> dict:
    """Scale measured per-worker throughput to a national 1 km hourly year (assumes linear scaling
    in cells — the SPIN readout is sparse, cost ∝ cells × stations within the kernel radius)."""
    w, s, e, n = CHINA_BBOX
    cells = round((e - w) / NATIONAL_RES) * round((n - s) / NATIONAL_RES)
    cell_hours = cells * 8760
    per_worker = best["cell_hours_per_s"] / max(best["workers"], 1)
    out = {"cells": cells, "cell_hours": cell_hours, "per_worker_cell_hours_per_s": round(per_worker),
           "storage_tb_compressed": round(cell_hours * bytes_per_cell_hour / 1e12, 2),
           "storage_tb_raw_float32": round(cell_hours * 4 / 1e12, 2)}
    for n_workers in (8, 32, 128):
        out[f"hours_with_{n_workers}_workers"] = round(cell_hours / (per_worker * n_workers) / 3600, 1)
    for side in (250, 500, 1000):  # one work item: a side×side-cell tile × block_hours
        out[f"memory_per_worker_gb_for_{side}x{side}_tile"] = round(
            (mem["fixed_mb"] * 2**20 + side * side * mem["bytes_per_cell_per_item"]) / 2**30, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", default="2019-01-01")
    ap.add_argument("--end", default="2019-12-31")
    ap.add_argument("--res", type=float, default=0.05)
    ap.add_argument("--model", default="spin")
    ap.add_argument("--dataset", default="cnemc_bth_2019")
    ap.add_argument("--workers", default="0,1,2", help="comma list; 0 = single process without Dask")
    ap.add_argument("--json", type=Path, default=METRICS_DIR / "reanalysis_bench.json")
    a = ap.parse_args()
    end = a.end if "T" in a.end else f"{a.end}T23:00"
    spec = ReanalysisSpec(model=a.model, start=f"{a.start}T00:00" if "T" not in a.start else a.start, end=end,
                          res=a.res, bbox=BTH_BBOX, dataset=a.dataset)
    report = bench(spec, [int(x) for x in a.workers.split(",")])
    report["machine"] = {"cpu_count": psutil.cpu_count(), "mem_gb": round(psutil.virtual_memory().total / 2**30)}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
