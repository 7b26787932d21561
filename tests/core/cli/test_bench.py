"""`python -m core bench`: the timing run on the real region (no timing asserted; figures go to bench.json)."""

from __future__ import annotations

import pytest

from core.cli.bench import run_bench


@pytest.mark.realdata
@pytest.mark.parametrize("repeats", [2])
def test_bench_times_every_call_on_a_new_day(shared_data, monkeypatch, repeats):
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    out = run_bench(repeats=repeats, threads=1)
    # a repeated window would let spin reuse its cached station pass, timing less than a user's new day
    assert len(set(out["timed_days"])) == repeats == len(out["spin_runs_s"]) == len(out["ok_runs_s"])
    assert out["timed_days"][0] == out["day"]
    assert out["ratio"] == pytest.approx(out["ok_s"] / out["spin_s"], rel=0.01)
    # the timed calls include the calibrated interval for both models
    assert out["spin_interval_level"] == out["ok_interval_level"] == 0.9
    assert out["grid_cells"] > 10_000 and out["stations"] > 300
