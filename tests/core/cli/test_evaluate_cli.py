"""`python -m core evaluate` end to end on a tiny CNEMC folder (and, with real data, one month)."""

import json

import pytest
from typer.testing import CliRunner

from core.__main__ import app
from tests.data.make_data import make_cnemc_folder

ISSUE_KEYS = {"model", "dataset", "protocol", "wind", "test_stations", "times", "runs", "metrics", "by_season",
              "baselines"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_cnemc_folder(tmp_path_factory.mktemp("cnemc"), start="2019-01-20", n_days=6).path


def run(*args):
    result = CliRunner().invoke(app, ["evaluate", *map(str, args), "--no-progress"])
    return result


@pytest.mark.parametrize("protocol", ["holdout", "mask-50", "sparse-30km"])
def test_evaluate_path_writes_the_report(folder, tmp_path, protocol):
    out = tmp_path / "r.json"
    res = run("--model", "idw", "--protocol", protocol, "--path", folder, "--json", out, "--seeds", 2)
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert ISSUE_KEYS <= set(rep)
    assert rep["times"]["rule"] == "all" and rep["times"]["count"] == 6 * 24  # --path: every day scored
    assert set(rep["baselines"]) == {"idw", "ok", "knn", "ignnk"}
    assert rep["metrics"]["mae"] >= 0 and rep["test_stations"]
    assert len(rep["runs"]) == (2 if protocol == "mask-50" else 1)


def test_user_stations_and_period_are_recorded(folder, tmp_path):
    out = tmp_path / "r.json"
    res = run("--model", "knn", "--protocol", "holdout", "--path", folder, "--json", out,
              "--test-stations", "1015A", "--period", "2019-01-21/2019-01-22")
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["test_stations"] == ["1015A"] and rep["times"]["period"] == "2019-01-21/2019-01-22"
    assert rep["times"]["count"] == 48 and rep["model"] == "knn"


@pytest.mark.parametrize("extra, message", [
    (["--test-stations", "1015A,XYZ9"], "XYZ9"),
    (["--period", "2018-01-01/2018-02-01"], "outside the data"),
    (["--protocol", "mask-40"], "Unknown protocol"),
])
def test_clear_errors(folder, tmp_path, extra, message):
    args = ["--model", "idw", "--protocol", "holdout", "--path", folder, "--json", tmp_path / "r.json"]
    if extra[0] == "--protocol":
        args[3] = extra[1]
        extra = []
    res = CliRunner().invoke(app, ["evaluate", *map(str, args + extra), "--no-progress"])
    assert res.exit_code != 0
    assert message in str(res.exception) + res.output


@pytest.mark.realdata
@pytest.mark.slow  # parses the year of CNEMC files into the test session's own cache
def test_real_month_idw_holdout(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    out = tmp_path / "r.json"
    res = run("--model", "idw", "--protocol", "holdout", "--dataset", "cnemc_bth_2019", "--json", out,
              "--period", "2019-07-01/2019-07-07")
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert len(rep["test_stations"]) == 20 and 160 <= rep["times"]["count"] <= 7 * 24  # a few source hours absent
    assert 2 < rep["metrics"]["mae"] < 20  # summer week, IDW: single-digit µg/m³ expected
    assert rep["baselines"]["ok"]["mae"] > 0
