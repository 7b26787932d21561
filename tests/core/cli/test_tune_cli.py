"""`python -m core tune`: bad requests are refused with a message that says what to change."""

import re

import pytest
from typer.testing import CliRunner

from core.__main__ import app
from core.errors import InvalidRequest


@pytest.mark.parametrize("args, message", [
    (["--model", "knn"], "--model must be one of idw, logok, spin"),
    (["--model", "idw", "--run", "somewhere"], "--run, --ok-k, --corr-scale, --chunk-hours and --variogram are spin's"),
    (["--model", "logok", "--ok-k", "16"], "--run, --ok-k, --corr-scale, --chunk-hours and --variogram are spin's"),
    (["--model", "idw", "--chunk-hours", "72"], "--corr-scale, --chunk-hours and --variogram are spin's"),
    (["--model", "logok", "--variogram", "window"], "--chunk-hours and --variogram are spin's"),
    (["--model", "spin", "--chunk-hours", "0"], "--chunk-hours values must be ≥ 1"),
    (["--model", "spin", "--variogram", "hourly"], "--variogram values must be among trained, window"),
    (["--model", "spin", "--corr-scale", "1.5"], r"--corr-scale values must lie in \[0, 1\]"),
    (["--model", "spin", "--ok-k", "0"], "--ok-k values must be ≥ 1"),
])
def test_bad_tune_request_is_refused_before_any_work(args, message):
    res = CliRunner().invoke(app, ["tune", *args])
    assert isinstance(res.exception, InvalidRequest), res.output
    assert re.search(message, str(res.exception))


def test_spin_grid_options_reach_the_tuner(monkeypatch):
    """The CLI passes the grid through unchanged (the tuner itself is tested in test_checkpoint / test_tuning)."""
    from core.evaluation import tuning

    seen = {}
    monkeypatch.setattr(tuning, "tune_spin", lambda **kw: seen.update(kw) or {"ok_k": 16, "corr_scale": 0.6})
    res = CliRunner().invoke(app, ["tune", "--model", "spin", "--ok-k", "16", "--corr-scale", "0.5",
                                   "--corr-scale", "0.6", "--run", "a", "--run", "b", "--chunk-hours", "72",
                                   "--variogram", "window"])
    assert res.exit_code == 0, res.output
    assert seen["ok_k"] == (16,) and seen["corr_scale"] == (0.5, 0.6) and seen["chunk_hours"] == (72,)
    assert seen["variograms"] == ("window",)
    assert [str(r) for r in seen["runs"]] == ["a", "b"]
