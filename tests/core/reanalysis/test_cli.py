"""`reanalyze` arguments: every bad one is refused with a clear message before any data loads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

import core.reanalysis.work as work
from core.__main__ import app
from core.errors import InvalidRequest
from core.paths import REPO_ROOT

GOOD = {"--start": "2020-03-01", "--end": "2020-03-02", "--res": "0.25", "--bbox": "114,37.5,118,40.5",
        "--model": "idw", "--workers": "0"}


def _args(folder: Path, out: Path, **change: str) -> list[str]:
    opts = GOOD | {"--path": str(folder), "--out": str(out)} | {k.replace("_", "-"): v for k, v in change.items()}
    return ["reanalyze", *[x for kv in opts.items() for x in kv]]


@pytest.mark.parametrize(("change", "message"), [
    ({"--res": "0"}, "--res must be a positive"),
    ({"--res": "-0.1"}, "--res must be a positive"),
    ({"--res": "nan"}, "--res must be a positive"),
    ({"--res": "10"}, "larger than the bbox"),
    ({"--bbox": "118,37.5,114,40.5"}, "west .* must be < east"),
    ({"--bbox": "114,40.5,118,37.5"}, "south .* must be < north"),
    ({"--bbox": "114,37.5,118"}, "--bbox must be W,S,E,N"),
    ({"--bbox": "a,b,c,d"}, "--bbox must be W,S,E,N"),
    ({"--start": "yesterday-ish"}, "--start 'yesterday-ish' is not a date"),
    ({"--end": "2020-13-45"}, "--end '2020-13-45' is not a date"),
    ({"--start": "2020-03-03", "--end": "2020-03-01"}, "Empty period"),
    ({"--block-hours": "0"}, "--block-hours must be a whole number ≥ 1"),
    ({"--block-hours": "-3"}, "--block-hours must be a whole number ≥ 1"),
    ({"--workers": "-1"}, "--workers must be ≥ 1"),
    ({"--tile-deg": "0"}, "--tile-deg must be a positive"),
    ({"--region": "mars", "--bbox": ""}, "Unknown --region 'mars'"),
    ({"--model": "nope"}, "Unknown model 'nope'"),
    ({"--out": "/tmp/x.csv"}, "--out must end in .zarr or .nc"),
    ({"--out": "/nonexistent-dir/x.zarr"}, "folder /nonexistent-dir does not exist"),
])
def test_bad_argument_is_refused_before_data_loads(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict, message: str
) -> None:
    monkeypatch.setattr(work, "load_stationset", lambda **kw: pytest.fail("data loaded before validation"))
    work.stations_for.cache_clear()
    res = CliRunner().invoke(app, _args(folder, tmp_path / "o.zarr", **change))
    assert isinstance(res.exception, InvalidRequest), res.output
    assert re.search(message, str(res.exception)), str(res.exception)
    assert not (tmp_path / "o.zarr").exists()


def test_workers_minus_one_exits_2_fast_with_a_message(folder: Path, tmp_path: Path) -> None:
    """Used to hang with more than one block; now a subprocess exits 2 with the reason on stderr."""
    proc = subprocess.run([sys.executable, "-m", "core", *_args(folder, tmp_path / "o.zarr"), "--workers", "-1"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "--workers must be ≥ 1" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_run_reports_domain_and_reruns_as_complete(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.zarr"
    res = CliRunner().invoke(app, _args(folder, out))
    assert res.exit_code == 0, res.output
    facts = json.loads(res.stdout.strip().splitlines()[-1])
    assert facts["domain"].startswith("every cell of the bbox") and facts["items_computed"] == facts["items"] == 2
    assert xr.open_zarr(out).attrs["reanalysis_mask"] == "bbox"
    again = CliRunner().invoke(app, _args(folder, out))
    assert again.exit_code == 0 and json.loads(again.stdout.strip().splitlines()[-1])["items_computed"] == 0
    assert "is complete (verified against its checksums); nothing to do" in again.stderr
