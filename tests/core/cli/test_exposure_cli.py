"""`python -m core exposure`: its JSON keys (a public contract), per-unit CSV beside it, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.__main__ import app
from core.contracts.period import parse_window as parse_period
from core.errors import InvalidRequest


def _run(*args: str):
    return CliRunner().invoke(app, ["exposure", *args])


@pytest.mark.parametrize(("start", "end", "last"), [
    ("2019-01-01", "2019-01-31", "2019-01-31T23"),
    ("2019-01-01", "2019-01-02T05", "2019-01-02T05"),
])
def test_parse_period_includes_last_day(start, end, last):
    w = parse_period(start, end)
    assert str(w.end).startswith(last)


@pytest.mark.parametrize(("start", "end"), [("2019-02-01", "2019-01-01"), ("yesterday-ish", "2019-01-01")])
def test_bad_period_is_a_clear_error(start, end):
    with pytest.raises(InvalidRequest, match="--end|Dates must look like"):
        parse_period(start, end)


def test_unknown_model_names_available_ones(tmp_path):
    res = _run("--start", "2019-01-01", "--end", "2019-01-02", "--model", "no-such-model",
               "--json", str(tmp_path / "e.json"))
    assert isinstance(res.exception, InvalidRequest)
    assert "Available models:" in str(res.exception) and "idw" in str(res.exception)
    assert not (tmp_path / "e.json").exists()


@pytest.mark.realdata
def test_exposure_cli_real_data(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    out = tmp_path / "exp.json"
    res = _run("--start", "2019-01-05", "--end", "2019-01-06", "--model", "idw", "--json", str(out),
               "--res", "0.2", "--n-boot", "50")
    assert res.exit_code == 0, res.output
    facts = json.loads(out.read_text(encoding="utf-8"))
    for key in ("units", "population_total", "pop_weighted_pm25", "above", "disparity", "sources"):
        assert key in facts
    assert facts["units"] == 222
    assert abs(facts["population_total"] - 110_369_339) / 110_369_339 < 0.005
    assert facts["hours"] == 48 and 5 < facts["pop_weighted_pm25"] < 1000
    assert set(facts["above"]) == {"WHO2021_24h_15", "WHO2021_annual_5", "GB3095_II_24h_75", "GB3095_II_annual_35"}
    rec = facts["disparity"]["age65p"]
    assert {"ratio", "concentration_index", "interval"} <= set(rec) and rec["interval"][0] <= rec["interval"][1]
    assert "National Bureau of Statistics" in facts["sources"]["census"] and "GHSL" in facts["sources"]["ghsl"]
    table = pd.read_csv(out.with_suffix(".csv"), dtype={"CODE": str})
    assert len(table) == 222 and table["pm25"].notna().all()
    assert table["population"].sum() == pytest.approx(110_369_339)


@pytest.mark.parametrize("n_boot", ["0", "-5", "1"])
def test_a_bootstrap_without_resamples_is_refused_with_exit_2(tmp_path, n_boot, monkeypatch, capsys):
    import sys

    import core.exposure as exposure
    from core.__main__ import main

    monkeypatch.setattr(exposure, "run_exposure", lambda *a, **k: pytest.fail("ran before validating"))
    monkeypatch.setattr(sys, "argv", ["core", "exposure", "--start", "2019-01-01", "--end", "2019-01-02",
                                      "--model", "idw", "--json", str(tmp_path / "e.json"), "--n-boot", n_boot])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"--n-boot {n_boot}" in err and "at least 2" in err
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("n_boot", [0, -1, 1])
def test_the_library_bootstrap_refuses_too_few_resamples(n_boot):
    import numpy as np

    from core.exposure.disparity import bootstrap

    rng = np.random.default_rng(0)
    with pytest.raises(InvalidRequest, match="at least 2"):
        bootstrap(rng.random(20), rng.random(20), np.ones(20), n_boot=n_boot)
