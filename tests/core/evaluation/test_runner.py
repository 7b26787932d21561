import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.baselines.ok import OrdinaryKriging
from core.contracts.settings import EVALUATION_BASELINES
from core.data.splits import select_test_stations, validation_folds
from core.errors import InvalidRequest
from core.evaluation.runner import blocks, evaluate, scored_hours
from tests.public_keys import REPORT_KEYS

# the evaluation report's top-level keys: a public contract (dashboard/reports.py reads them)


class Spy:
    """A real IDW that records what each call was given (not a mock: its answers are IDW's)."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.inner = IDW(2.0)

    def infer(self, stations, observed, grid, window):
        self.calls.append((stations["station"].values.astype(str), stations["pm25"].values.copy(), observed.copy()))
        return self.inner.infer(stations, observed, grid, window)


class Broken:
    name = "ignnk"

    def infer(self, stations, observed, grid, window):
        raise RuntimeError("checkpoint not shipped yet")


def models():
    return {"idw": IDW(2.0), "ok": OrdinaryKriging(), "knn": KNN(), "ignnk": Broken()}


@pytest.fixture(scope="module")
def mask50(region):
    spy = Spy()
    rep = evaluate("spy", "mask-50", stations=region, seeds=3, models=models() | {"spy": spy})
    return rep, spy


def test_report_has_the_contract_keys(mask50, region):
    rep, _ = mask50
    assert REPORT_KEYS <= set(rep)
    assert rep["model"] == "spy" and rep["protocol"] == "mask-50" and rep["wind"] == "none"
    assert rep["test_stations"] == select_test_stations(region)
    assert set(rep["times"]) >= {"start", "end", "count"} and rep["times"]["count"] > 0
    assert [r["seed"] for r in rep["runs"]] == [0, 1, 2]
    for r in rep["runs"]:
        assert {"seed", "hidden_stations", "mae", "rmse"} <= set(r) and set(rep["test_stations"]) <= set(
            r["hidden_stations"])
    assert set(rep["metrics"]) >= {"mae", "rmse", "r2", "bias"}
    assert set(rep["by_season"]) == {"DJF", "MAM", "JJA", "SON"}
    assert rep["by_season"]["DJF"]["n"] == rep["metrics"]["n"]  # January only
    assert set(EVALUATION_BASELINES) == {"idw", "ok", "logok", "knn", "ignnk"} == set(rep["baselines"])
    assert "checkpoint not shipped" in rep["baselines"]["ignnk"]["error"]
    assert rep["baselines"]["idw"]["mae"] == pytest.approx(rep["metrics"]["mae"])  # the spy is IDW
    assert rep["ratio_to_idw"] == pytest.approx(1.0)
    assert rep["data_sha256"] == "abc"


def test_model_never_receives_s_test_values(mask50):
    rep, spy = mask50
    assert spy.calls
    for codes, pm25, observed in spy.calls:
        cols = np.isin(codes, rep["test_stations"])
        assert np.isnan(pm25[:, cols]).all()
        assert not np.asarray(observed)[..., cols].any()


def test_scored_hours_are_test_days_only(mask50):
    rep, _ = mask50
    assert rep["times"]["start"] >= "2019-01-24" and rep["times"]["rule"] == "test-days"
    assert rep["times"]["count"] <= 8 * 24


def test_baselines_share_the_hidden_sets(mask50):
    rep, _ = mask50
    for name in ("idw", "ok", "knn"):
        b = rep["baselines"][name]
        assert [r["hidden_stations"] for r in b["runs"]] == [r["hidden_stations"] for r in rep["runs"]]
    assert rep["baselines"]["ok"]["mae"] < 3 * rep["baselines"]["idw"]["mae"]


def test_same_seed_same_result(region, mask50):
    rep, _ = mask50
    again = evaluate("idw", "mask-50", stations=region, seeds=3, models=models(), baselines=())
    assert again["metrics"]["mae"] == pytest.approx(rep["metrics"]["mae"])
    assert [r["hidden_stations"] for r in again["runs"]] == [r["hidden_stations"] for r in rep["runs"]]


def test_sparse_and_holdout_run(region):
    sp = evaluate("idw", "sparse-30km", stations=region, models=models(), baselines=("knn",))
    ho = evaluate("idw", "holdout", stations=region, models=models(), baselines=("knn",))
    assert len(sp["test_stations"]) == 4 and len(sp["runs"]) == 1  # per-target runs pooled under seed 0
    assert sorted(sp["runs"][0]["hidden_by_target"]) == sp["test_stations"]
    assert np.isfinite(sp["metrics"]["mae"]) and np.isfinite(ho["metrics"]["mae"])
    assert set(ho["runs"][0]["hidden_stations"]) == set(ho["test_stations"])


def test_user_test_stations_and_period(region):
    rep = evaluate("idw", "holdout", stations=region, models=models(), baselines=(),
                   test_stations="1003A,1010A", period="2019-01-02/2019-01-05")
    assert rep["test_stations"] == ["1003A", "1010A"]
    assert rep["times"]["start"] == "2019-01-02T00:00:00" and rep["times"]["end"] == "2019-01-05T23:00:00"
    assert rep["times"]["rule"] == "period" and rep["times"]["period"] == "2019-01-02/2019-01-05"


@pytest.mark.parametrize("kwargs, match", [
    ({"test_stations": "1003A,9999X"}, "9999X"),
    ({"test_stations": "2000A"}, "not active"),
    ({"period": "2020-01-01/2020-02-01"}, "outside the data"),
    ({"period": "2019-01-05"}, "START/END"),
])
def test_clear_errors(region, kwargs, match):
    with pytest.raises(InvalidRequest, match=match):
        evaluate("idw", "holdout", stations=region, models=models(), baselines=(), **kwargs)


def test_test_stations_from_file(region, tmp_path):
    f = tmp_path / "codes.txt"
    f.write_text("# my stations\n1004A\n1012A\n")
    rep = evaluate("idw", "holdout", stations=region, models=models(), baselines=(), test_stations=str(f))
    assert rep["test_stations"] == ["1004A", "1012A"]


def test_other_dataset_scores_every_present_hour(region):
    hours, rule = scored_hours(region, None, use_split=False)
    assert rule == "all" and hours.all()


def test_blocks_merge_small_gaps():
    m = np.array([1, 1, 0, 1, 0, 0, 0, 1], bool)
    assert blocks(m) == [slice(0, 2), slice(3, 4), slice(7, 8)]
    assert blocks(m, max_gap=1) == [slice(0, 4), slice(7, 8)]


def test_model_parameters_are_recorded(mask50):
    rep, _ = mask50
    assert rep["baselines"]["idw"]["params"]["power"] == 2.0
    assert rep["baselines"]["knn"]["params"]["k"] == 5
    assert rep["baselines"]["ok"]["params"]["fallback_values"] >= 0


@pytest.mark.parametrize("protocol", ["holdout", "mask-50"])
def test_val_split_never_sees_s_test_and_scores_val_days(region, protocol):
    spy = Spy()
    rep = evaluate("spy", protocol, stations=region, seeds=2, split="val", models=models() | {"spy": spy})
    s_test = set(select_test_stations(region))
    assert rep["split"] == "val" and rep["times"]["rule"] == "val-days"
    assert rep["val_stations"] and not set(rep["val_stations"]) & s_test
    for codes, _, _ in spy.calls:  # S_test is removed from the set, not merely hidden
        assert not set(codes) & s_test
    days = {int(str(r)[8:10]) for r in (rep["times"]["start"], rep["times"]["end"])}
    assert days <= {21, 22, 23}
    for r in rep["runs"]:
        assert set(rep["val_stations"]) <= set(r["hidden_stations"])


@pytest.mark.parametrize("protocol", ["holdout", "sparse-30km"])
@pytest.mark.parametrize("fold", [0, 1, 3])
def test_val_fold_hides_and_scores_that_fold(region, protocol, fold):
    s_test = select_test_stations(region)
    view = region.isel(station=np.flatnonzero(~np.isin(region["station"], s_test)))
    want = validation_folds(view)[fold]
    rep = evaluate("idw", protocol, stations=region, split="val", fold=fold, baselines=())
    assert rep["val_fold"] == fold and rep["val_stations"] == want
    (run,) = rep["runs"]
    if protocol == "holdout":
        assert run["hidden_stations"] == want
    else:  # one hidden set per target; the targets are the fold
        assert {c for g in run["hidden_by_target"] for c in g.split(",")} == set(want)
    assert not set(run["hidden_stations"]) & set(s_test)


@pytest.mark.parametrize("split, fold, message", [("val", 9, "Validation fold 9 does not exist"),
                                                  ("val", -1, "Validation fold -1 does not exist"),
                                                  ("test", 1, "needs --split val")])
def test_bad_fold_is_refused(region, split, fold, message):
    with pytest.raises(InvalidRequest, match=message):
        evaluate("idw", "holdout", stations=region, split=split, fold=fold, baselines=())


def test_val_split_refuses_path(tmp_path):
    with pytest.raises(InvalidRequest, match="--split val needs --dataset"):
        evaluate("idw", "holdout", path=tmp_path, split="val")


def test_the_report_counts_the_qc_flagged_cells_it_scored(region):
    from core.data.qc import RANGE, SPIKE, STUCK

    ds = region.copy(deep=True)
    qc = np.zeros(ds["pm25"].shape, np.uint8)
    codes = list(ds["station"].values.astype(str))
    times = ds["time"].values
    a, b, c = codes.index("1003A"), codes.index("1010A"), codes.index("1005A")
    in_period = np.flatnonzero((times >= np.datetime64("2019-01-02")) & (times < np.datetime64("2019-01-06")))
    finite = np.isfinite(ds["pm25"].values)
    rows_a = [t for t in in_period if finite[t, a]][:4]
    qc[rows_a[:3], a] = RANGE
    qc[rows_a[3], a] = SPIKE | STUCK
    qc[next(t for t in in_period if finite[t, b]), b] = STUCK
    qc[next(t for t in in_period if finite[t, c]), c] = RANGE  # an input station: not scored
    qc[0, a] = RANGE  # outside the period: not scored
    ds["pm25"].values[in_period[-1], a] = np.nan
    qc[in_period[-1], a] = RANGE  # no truth there: not scored
    ds["qc_pm25"] = (("time", "station"), qc)
    rep = evaluate("idw", "holdout", stations=ds, models=models(), baselines=(),
                   test_stations="1003A,1010A", period="2019-01-02/2019-01-05")
    assert rep["flagged_cells_scored"] == 5
    assert rep["flagged_cells_by_flag"] == {"range": 3, "spike": 1, "stuck": 2}
    clean = evaluate("idw", "holdout", stations=region, models=models(), baselines=(),
                     test_stations="1003A,1010A", period="2019-01-02/2019-01-05")
    assert clean["flagged_cells_scored"] == 0
