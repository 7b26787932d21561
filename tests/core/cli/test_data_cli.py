"""`python -m core data info`: the JSON contract on fixture folders and on the real 2019 folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.__main__ import app
from core.paths import REPO_ROOT
from tests.data.make_data import make_cnemc_folder

KEYS = {"stations_total", "stations_active", "bth_active", "time_start", "time_end", "hours_present",
        "pm25_missing_rate", "wind", "warnings"}


def _info(*args: str, env: dict[str, str] | None = None) -> dict:
    result = CliRunner().invoke(app, ["data", "info", *args, "--json"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("how", ["path", "dataset"])
def test_info_json_on_a_fixture_folder(tmp_path: Path, how: str) -> None:
    root = tmp_path / "data" / "raw" / "cnemc_small"
    make_cnemc_folder(root, start="2020-12-30", n_days=4, missing_day=2, dead_stations=("1099A",))
    if how == "path":
        facts = _info("--path", str(root))
    else:
        facts = _info("--dataset", "cnemc_small", env={"AIRATLAS_DATA": str(tmp_path / "data")})
    assert KEYS <= facts.keys()
    assert facts["stations_total"] == 5 and facts["stations_active"] == 4 and facts["bth_active"] == 3
    assert facts["time_start"] == "2020-12-30T00" and facts["time_end"] == "2021-01-02T23"
    assert facts["hours_present"] == 72 and facts["pm25_missing_rate"] == 0.0
    assert facts["wind"] == "none" and facts["warnings"] == 2


def test_info_shows_located_warnings(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=2, ragged_last_row=1)
    result = CliRunner().invoke(app, ["data", "info", "--path", str(tmp_path), "--show-warnings", "5"])
    assert result.exit_code == 0
    assert "hourly/china_sites_20200302.csv.gz:241: truncated row" in result.stderr


def test_info_needs_exactly_one_of_dataset_or_path() -> None:
    result = CliRunner().invoke(app, ["data", "info", "--json"])
    assert result.exit_code == 2 and "exactly one of --dataset or --path" in result.output


@pytest.mark.parametrize(("setup", "message"), [("no_stations", "stations_region.csv"),
                                                ("missing_folder", "does not exist"),
                                                ("unknown_dataset", "Dataset 'nope' not found")])
def test_unusable_input_is_a_clear_error_not_a_traceback(tmp_path: Path, setup: str, message: str) -> None:
    env = os.environ | {"AIRATLAS_DATA": str(tmp_path), "AIRATLAS_CACHE": str(tmp_path / "cache")}
    if setup == "no_stations":
        make_cnemc_folder(tmp_path / "f", n_days=1, station_list=False)
        args = ["--path", str(tmp_path / "f")]
    elif setup == "missing_folder":
        args = ["--path", str(tmp_path / "absent")]
    else:
        (tmp_path / "raw").mkdir()
        args = ["--dataset", "nope"]
    proc = subprocess.run([sys.executable, "-m", "core", "data", "info", *args, "--json"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.realdata
def test_info_on_the_real_2019_folder(shared_data: Path) -> None:
    facts = _info("--dataset", "cnemc_bth_2019", env={"AIRATLAS_DATA": str(shared_data)})
    assert abs(facts["stations_active"] - 345) <= 5 and abs(facts["bth_active"] - 80) <= 2
    assert facts["time_start"] == "2019-01-01T00" and facts["time_end"] == "2019-12-31T23"
    by_path = _info("--path", str(shared_data / "raw" / "cnemc_bth_2019"))
    assert {k: by_path[k] for k in KEYS} == {k: facts[k] for k in KEYS}
