"""`python -m core siting`: its JSON keys (a public contract), CSV beside it, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.__main__ import app
from core.errors import InvalidRequest


def _run(*args: str):
    return CliRunner().invoke(app, ["siting", *args])


@pytest.mark.parametrize(("args", "match"), [
    (("--model", "no-such-model"), "Available models:"),
    (("--res", "5"), "--res"),
    (("--hide-share", "1.5"), "--hide-share"),
    (("--uncertainty", "vibes"), "--uncertainty"),
])
def test_bad_options_are_clear_errors(tmp_path, args, match):
    res = _run("--date", "2019-01-12", "--json", str(tmp_path / "s.json"), *args)
    assert isinstance(res.exception, InvalidRequest) and match in str(res.exception)
    assert not (tmp_path / "s.json").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_siting_cli_real_data(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    out = tmp_path / "siting.json"
    res = _run("--dataset", "cnemc_bth_2019", "--date", "2019-01-12", "--n", "4", "--json", str(out),
               "--seeds", "1", "--draws", "1", "--k", "3")
    assert res.exit_code == 0, res.output
    facts = json.loads(out.read_text(encoding="utf-8"))
    assert {"sites", "validation"} <= set(facts)
    assert len(facts["sites"]) == 4
    for s in facts["sites"]:
        assert {"lon", "lat", "score", "district"} <= set(s)
        assert 113.4 < s["lon"] < 119.9 and 36 < s["lat"] < 42.7 and s["district"] and s["score"] > 0
    v = facts["validation"]
    assert {"ranked_mae", "random_mae", "seeds"} <= set(v) and v["seeds"] == [0]
    assert 0 < v["ranked_mae"] < 100 and 0 < v["random_mae"] < 100
    assert facts["uncertainty"] in ("interval_width", "distance_to_nearest_monitor")
    assert len(pd.read_csv(out.with_suffix(".csv"))) == 4
