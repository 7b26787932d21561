import numpy as np
import pytest

from core.contracts.stationset import active_stations
from core.data.splits import select_test_stations
from core.errors import InvalidRequest
from core.evaluation.protocols import PROTOCOLS, runs_for
from core.geo import haversine_km


@pytest.fixture(scope="module")
def act(region):
    return active_stations(region)


@pytest.fixture(scope="module")
def s_test(region):
    return select_test_stations(region)


def test_registry_names():
    assert set(PROTOCOLS) == {"holdout", "mask-30", "mask-50", "mask-70", "mask-90", "sparse-30km"}


def test_holdout_hides_exactly_s_test(act, s_test):
    (run,) = runs_for("holdout", act, s_test)
    assert set(run.hidden) == set(s_test) == set(run.scored)


@pytest.mark.parametrize("ratio", [30, 50, 70, 90])
def test_mask_r_hides_r_percent_of_bth_with_s_test_always(act, s_test, ratio):
    bth = set(act["station"].values[act["is_bth"].values].astype(str))
    runs = runs_for(f"mask-{ratio}", act, s_test)
    assert len(runs) == 5 and [r.seed for r in runs] == list(range(5))
    for r in runs:
        assert set(s_test) <= set(r.hidden) <= bth  # non-BTH stations stay observed
        assert len(r.hidden) == max(len(s_test), round(ratio / 100 * len(bth)))
        assert set(r.scored) == set(s_test)


def test_mask_seeds_reproducible_and_distinct(act, s_test):
    a = runs_for("mask-50", act, s_test, seeds=[0, 1, 2])
    b = runs_for("mask-50", act, s_test, seeds=[0, 1, 2])
    assert a == b
    assert len({r.hidden for r in a}) > 1


def test_sparse_hides_everything_within_30km(act, s_test):
    runs = runs_for("sparse-30km", act, s_test)
    codes = act["station"].values.astype(str)
    lat, lon = act["lat"].values, act["lon"].values
    assert sorted(c for r in runs for c in r.scored) == sorted(s_test)
    for r in runs:
        for s in r.scored:
            i = list(codes).index(s)
            d = haversine_km(lat[[i]], lon[[i]], lat, lon)[0]
            assert set(codes[d <= 30]) <= set(r.hidden)
            assert set(r.hidden) == set(codes[d <= 30])  # nothing beyond 30 km


def test_sparse_hides_the_close_neighbour(act):
    (run,) = runs_for("sparse-30km", act, ["1001A"])
    assert "1002A" in run.hidden  # 5 km apart


def test_unknown_protocol_and_inactive_station(act, s_test):
    with pytest.raises(InvalidRequest, match="Known: holdout"):
        runs_for("mask-40", act, s_test)
    with pytest.raises(InvalidRequest, match="2000A"):
        runs_for("holdout", act, ["2000A"])


def test_s_test_is_bth_with_one_per_city(region, s_test):
    cities = dict(zip(region["station"].values.astype(str), region["city"].values.astype(str), strict=True))
    assert {cities[c] for c in s_test} == {"北京", "天津"}
    assert np.isin(s_test, region["station"].values[region["is_bth"].values]).all()
