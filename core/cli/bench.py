"""`python -m core bench --json OUT`: time SPIN vs ordinary kriging on the same surfaces.

One run times, through the common ``infer(...)`` step, a 24-hour window over every station of the
region (all observed values used) plus the BTH grid at 0.05° (~17k cells), for the shipped ``spin``
checkpoint and for ``ok`` (ordinary kriging). Spin runs on one torch thread by default: on a busy
2-core machine OpenMP spin-waits made two threads ~4× slower. Each model gets one untimed warm-up call on another
day (lazy imports, geometry); the figure is the median of ``--repeats`` timed calls, each on its own day
(``--day`` and the days after it, listed under ``timed_days``): a model may reuse work for a window it has
already seen (spin keeps the station pass of recent windows for reanalysis tiles), which a user asking for
a new day does not get, so no timed call repeats a window.
JSON keys: ``spin_s``, ``ok_s``, ``ratio`` (= ok_s / spin_s), plus the setting; ``<model>_interval_level``
says whether the timed call produced the calibrated interval (its level) or not (null).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import typer

from core.contracts.settings import DEFAULT_DATASET

DAY = "2019-01-15"
WARMUP_DAY = "2019-01-14"


def _time_model(model, stations, observed, grid, windows) -> tuple[float, list[float], object]:
    from core.engine.infer import infer

    runs = []
    for window in windows:
        t0 = time.perf_counter()
        res = infer(model, stations, observed, grid, window)
        runs.append(time.perf_counter() - t0)
    assert res.grid is not None and res.grid.sizes["time"] == 24
    return statistics.median(runs), runs, res


def run_bench(dataset: str = DEFAULT_DATASET, day: str = DAY, res: float = 0.05, repeats: int = 3,
              device: str = "cpu", threads: int | None = None, models: tuple[str, ...] = ("spin", "ok")) -> dict:
    """Timings (s) of each model inferring one day (24 h) at all stations + the BTH grid."""
    import numpy as np
    import torch

    from core.contracts.grid import BTH_BBOX, GridSpec
    from core.contracts.kriger import Window
    from core.data.load import load_stationset
    from core.engine.models import get_model

    if threads:
        torch.set_num_threads(threads)
    ds = load_stationset(dataset=dataset)
    t_day = np.datetime64(day)
    # the day plus the day before (warm-up window); models may read the data they are given
    sub = ds.sel(time=slice(t_day - np.timedelta64(1, "D"), t_day + np.timedelta64(24 * repeats - 1, "h")))
    observed = np.isfinite(sub["pm25"].values)
    grid = GridSpec.from_bbox(BTH_BBOX, res)
    days = [t_day + np.timedelta64(r, "D") for r in range(repeats)]
    windows = [Window.of(d, d + np.timedelta64(23, "h")) for d in days]
    warm = Window.of(t_day - np.timedelta64(1, "D"), t_day - np.timedelta64(1, "h"))
    out: dict = {"dataset": dataset, "day": day, "grid_res_deg": res, "grid_cells": int(grid.shape[0] * grid.shape[1]),
                 "stations": int(sub.sizes["station"]), "hours": 24, "repeats": repeats,
                 "timed_days": [str(d)[:10] for d in days],
                 "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                 "load_average_1min": round(os.getloadavg()[0], 2)}
    from core.engine.infer import infer

    for name in models:
        kwargs = {"device": device} if name == "spin" else {}
        model = get_model(name, **kwargs)
        infer(model, sub, observed, grid, warm)  # untimed warm-up
        med, runs, res = _time_model(model, sub, observed, grid, windows)
        out[f"{name}_s"] = round(med, 4)
        out[f"{name}_runs_s"] = [round(r, 4) for r in runs]
        # the timed call includes the calibrated interval (grid pm25_lo/pm25_hi) whenever the model ships one
        out[f"{name}_interval_level"] = res.grid["pm25_lo"].attrs.get("level") if "pm25_lo" in res.grid else None
    if "spin_s" in out and "ok_s" in out:
        out["ratio"] = round(out["ok_s"] / out["spin_s"], 2)
    return out


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_cmd(
        json_out: Path = typer.Option(Path("assets/metrics/bench.json"), "--json", help="Where to write the JSON."),
        dataset: str = typer.Option(DEFAULT_DATASET, help="Dataset under <data>/raw."),
        day: str = typer.Option(DAY, help="Day to infer (YYYY-MM-DD)."),
        res: float = typer.Option(0.05, help="Grid resolution, degrees."),
        repeats: int = typer.Option(3, help="Timed calls per model (median reported)."),
        device: str = typer.Option("cpu", help="Device for spin: cpu, cuda or auto."),
        threads: int = typer.Option(1, help="torch CPU threads for spin (1: fastest on the shared 2-core CPU; "
                                           "0 = torch's default). OK runs on numpy, unaffected."),
    ) -> None:
        """Time spin vs ordinary kriging: 24 h at every station + the BTH grid at 0.05°; keys spin_s, ok_s, ratio."""
        result = run_bench(dataset, day, res, repeats, device, threads)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n")
        typer.echo(json.dumps(result))
