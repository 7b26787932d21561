"""`python -m core evaluate` end to end on a tiny CNEMC folder (and, with real data, one month)."""

import json

import pytest
from typer.testing import CliRunner

from core.__main__ import app
from tests.data.make_data import make_cnemc_folder
from tests.public_keys import REPORT_KEYS


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
    assert REPORT_KEYS <= set(rep)
    assert rep["times"]["rule"] == "all" and rep["times"]["count"] == 6 * 24  # --path: every day scored
    assert set(rep["baselines"]) == {"idw", "ok", "logok", "knn", "ignnk"}
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


@pytest.mark.parametrize("where", ["existing_dir", "parent_is_a_file"])
def test_an_unwritable_json_path_is_refused_before_the_evaluation(folder, tmp_path, where, monkeypatch, capsys):
    import sys

    import core.evaluation.runner as runner
    from core.__main__ import main

    if where == "existing_dir":
        out = tmp_path / "reports"
        out.mkdir()
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "r.json"
    called = []
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: called.append(1))  # must never be reached
    monkeypatch.setattr(sys, "argv", ["core", "evaluate", "--model", "idw", "--protocol", "holdout", "--path",
                                      str(folder), "--json", str(out), "--no-progress"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and not called
    assert "--json" in err and str(out) in err and "Traceback" not in err
    assert ("existing directory" if where == "existing_dir" else "cannot be written") in err


def test_an_impossible_value_in_an_input_station_never_reaches_the_scores(tmp_path):
    clean = make_cnemc_folder(tmp_path / "clean", start="2019-01-20", n_days=3).path
    bad = make_cnemc_folder(tmp_path / "bad", start="2019-01-20", n_days=3, spike=(1, 5, "1001A", 1e9)).path
    reps = []
    for f in (clean, bad):
        out = tmp_path / f"{f.name}.json"
        res = run("--model", "idw", "--protocol", "holdout", "--path", f, "--json", out, "--test-stations", "1015A")
        assert res.exit_code == 0, res.output
        reps.append(json.loads(out.read_text()))
    assert reps[1]["metrics"]["mae"] < 100 and reps[1]["flagged_cells_scored"] == 0
    assert reps[1]["metrics"]["n"] == reps[0]["metrics"]["n"]


def test_another_checkpoint_is_scored_through_the_same_path(folder, tmp_path, sim_small_checkpoint):
    """``--checkpoint``: the same protocol, hidden sets and hours, only the weights differ; the shipped
    model's interval table is not applied to weights it was not fitted for."""
    from core.contracts.registry import get_spec
    from core.engine.neural_kriger import NeuralKriger
    from core.evaluation.runner import evaluate

    out = tmp_path / "r.json"
    res = run("--model", "spin", "--checkpoint", sim_small_checkpoint, "--protocol", "holdout", "--path", folder,
              "--json", out, "--baselines", "idw")
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["checkpoint"] == str(sim_small_checkpoint) and rep["metrics"].get("coverage") is None
    direct = evaluate("spin", "holdout", path=folder, baselines=("idw",), models={
        "spin": NeuralKriger.from_checkpoint(get_spec("spin"), root=sim_small_checkpoint.parent, name="spin-x")})
    assert rep["metrics"]["mae"] == direct["metrics"]["mae"]
    assert rep["baselines"]["idw"]["mae"] == direct["baselines"]["idw"]["mae"]
    missing = run("--model", "spin", "--checkpoint", "no-such-checkpoint", "--protocol", "holdout", "--path", folder,
                  "--json", tmp_path / "m.json", "--baselines", "none")
    assert missing.exit_code != 0 and "No trained 'no-such-checkpoint' checkpoint" in str(missing.exception)


@pytest.fixture(scope="module")
def sim_small_checkpoint(tmp_path_factory):
    """A tiny spin trained for a few steps on the simulator, saved as ``<tmp>/spin-x``."""
    from core.contracts.registry import get_spec
    from core.data.synthetic import SimConfig, simulate
    from core.engine.trainer import train

    sim = simulate(SimConfig.small(start="2019-01-19T00:00", n_hours=120, res=0.2, seed=3))
    hp = {"hidden": 8, "n_layers": 1, "tcn_layers": 1, "readout_dim": 4, "target_k": 4, "graph_k": 6, "window": 12,
          "predict": 12, "batch_size": 2, "epochs": 1, "steps_per_epoch": 2, "val_windows": 2,
          "train_margin_deg": None}
    root = tmp_path_factory.mktemp("models")
    res = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", progress=False, out_root=root,
                save_as="spin-x")
    return res.out_dir
