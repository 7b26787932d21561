"""Sub-network training: neighbourhoods are compact, subsets keep their geometry, the trainer uses them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import core.engine.trainer as trainer_mod
from core.contracts.registry import get_spec
from core.contracts.stationset import active_stations
from core.data.splits import select_test_stations
from core.engine.subnets import nodes_in_box, random_neighbourhood, subset_nodes
from core.engine.trainer import train
from core.graph import Geometry
from core.nn.features import prepare


@pytest.fixture
def nodes(sim):
    return prepare(active_stations(sim.stations))


def test_subset_keeps_values_and_geometry(nodes) -> None:
    idx = np.array([0, 3, 5, 9])
    sub = subset_nodes(nodes, idx)
    assert sub.n_nodes == 4 and list(sub.codes) == list(nodes.codes[idx])
    np.testing.assert_array_equal(sub.pm25, nodes.pm25[:, idx])
    np.testing.assert_array_equal(sub.aux, nodes.aux[:, idx])
    ref = Geometry.among(nodes.lat[idx], nodes.lon[idx])
    np.testing.assert_allclose(sub.geom.dist_km, ref.dist_km, rtol=1e-6)
    np.testing.assert_allclose(sub.geom.bearing, ref.bearing, atol=1e-6)


@pytest.mark.parametrize("size", [1, 7, 20])
def test_neighbourhood_is_the_nearest_stations_of_one_node(nodes, size: int) -> None:
    for seed in range(5):
        idx = random_neighbourhood(nodes, size, np.random.default_rng(seed))
        assert len(idx) == size and np.all(np.diff(idx) > 0)
        rest = np.setdiff1d(np.arange(nodes.n_nodes), idx)
        d = nodes.geom.dist_km
        # some chosen node has every chosen node at least as near as every node left out
        assert any(d[c, idx].max() <= d[c, rest].min() for c in idx)


def test_neighbourhood_larger_than_network_is_everything(nodes) -> None:
    np.testing.assert_array_equal(random_neighbourhood(nodes, nodes.n_nodes + 5, np.random.default_rng(0)),
                                  np.arange(nodes.n_nodes))


def test_nodes_in_box(nodes) -> None:
    w, e = float(np.median(nodes.lon)), float(nodes.lon.max()) + 1
    inside = nodes_in_box(nodes, (w, -90.0, e, 90.0), 0.0)
    assert len(inside) and np.all(nodes.lon[inside] > w)
    assert len(nodes_in_box(nodes, (w, -90.0, e, 90.0), 360.0)) == nodes.n_nodes


def test_trainer_steps_on_neighbourhoods_and_validates_on_the_box(sim, tiny_hp, tmp_path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    s_test = set(select_test_stations(active_stations(sim.stations)))
    sizes: list[int] = []
    real = trainer_mod.make_batch

    def spy(nodes, *args, **kwargs):
        assert not set(nodes.codes.tolist()) & s_test
        sizes.append(nodes.n_nodes)
        return real(nodes, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "make_batch", spy)
    # box shrunk (negative margin): a strict subset of the training nodes; sparse masking on the neighbourhood
    hp = {**tiny_hp, "subnet_size": 9, "val_margin_deg": -1.0, "val_sets": 2, "sparse_share": 0.5}
    res = train(get_spec("spin"), sim.stations, overrides=hp, device="cpu", progress=False, out_root=tmp_path,
                save_as="spin-sub")
    card = json.loads((res.out_dir / "card.json").read_text())
    n_val = card["subnet"]["validation_nodes"]
    n_train = len(card["split"]["training_stations"])
    steps = tiny_hp["epochs"] * tiny_hp["steps_per_epoch"]
    assert sizes.count(9) >= steps and n_train > 9 and 9 != n_val < n_train
    assert set(sizes) <= {9, n_val} and card["subnet"]["size"] == 9
    assert np.isfinite(res.best["val_mae"])
    # validation scores the box nodes only: every hidden validation station is in the (shrunk) box
    w, s, e, n = trainer_mod.BTH_BBOX
    box = (w + 1, s + 1, e - 1, n - 1)
    hidden = {c for s in card["validation"]["hidden_sets"] for c in s["hidden"]}
    ds = sim.stations.sel(station=sorted(hidden))
    assert np.all((ds["lon"].values > box[0]) & (ds["lon"].values < box[2]))
    assert np.all((ds["lat"].values > box[1]) & (ds["lat"].values < box[3]))
