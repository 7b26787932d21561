"""A real dask.distributed cluster: `dask scheduler` + two `dask worker` processes on 127.0.0.1,
`reanalyze --scheduler`, one worker SIGKILLed mid-run; the store equals a single-process run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from core.paths import REPO_ROOT
from core.reanalysis.domain import CHINA_BBOX, boundary_path, mask_for
from core.reanalysis.markers import marker_dir
from core.reanalysis.work import ReanalysisSpec, plan
from core.reanalysis.workflow import run_local

DASK = str(Path(sys.executable).parent / "dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path: Path):
    """Scheduler and two single-threaded workers without nannies (a killed worker stays dead)."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 — closed in the finally below
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log)]
    try:
        from distributed import Client

        for _ in range(2):
            procs.append(subprocess.Popen([DASK, "worker", addr, "--nthreads", "1", "--no-nanny",
                                           "--no-dashboard", "--host", "127.0.0.1"],
                                          cwd=REPO_ROOT, env=env, stdout=log, stderr=log))
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=60)
        yield addr, procs[1:]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


@pytest.mark.slow
def test_scheduler_run_survives_a_killed_worker_and_equals_single_process(
    national_folder: Path, tmp_path: Path, cluster
) -> None:
    addr, workers = cluster
    out = tmp_path / "national.zarr"
    args = ["--start", "2020-03-01", "--end", "2020-03-02", "--res", "1.0", "--region", "china",
            "--path", str(national_folder), "--model", "idw", "--block-hours", "3", "--tile-deg", "15",
            "--out", str(out), "--scheduler", addr]
    spec = ReanalysisSpec(model="idw", start="2020-03-01T00:00", end="2020-03-02T23:00", res=1.0, bbox=CHINA_BBOX,
                          path=str(national_folder), block_hours=3, tile_deg=15.0, mask=mask_for("china"))
    n_items = len(plan(spec))
    run = subprocess.Popen([sys.executable, "-m", "core", "reanalyze", *args], cwd=REPO_ROOT,
                           env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(list(marker_dir(out).glob("*.done"))) < n_items // 4 and time.monotonic() < deadline:
            assert run.poll() is None, run.stderr.read()[-3000:]
            time.sleep(0.05)
        killed_at = len(list(marker_dir(out).glob("*.done")))
        os.kill(workers[0].pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=100)
    finally:
        if run.poll() is None:
            run.kill()
    assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert run.returncode == 0, stderr[-3000:]
    assert killed_at < n_items  # the kill landed mid-run
    assert len(list(marker_dir(out).glob("*.done"))) == n_items
    ref = xr.open_zarr(run_local(spec, tmp_path / "ref.zarr", progress=False))["pm25"].values
    got = xr.open_zarr(out)
    np.testing.assert_array_equal(got["pm25"].values, ref)
    assert np.isfinite(ref).any() and np.isnan(ref).any()  # masked to the boundary (or bbox) but not empty
    want_mask = "natural-earth-10m-china" if boundary_path() else "bbox"
    assert got.attrs["reanalysis_mask"] == want_mask
