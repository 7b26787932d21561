"""IGNNK module: diffusion graph convolution algebra, query nodes, overfitting, inductiveness."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Window
from core.engine.infer import infer
from core.engine.models import get_model
from core.engine.trainer import train
from core.geo import haversine_km
from core.nn.features import make_batch, prepare
from core.nn.models.ignnk import (
    IGNNK,
    SPEC,
    DiffusionGraphConv,
    IGNNKNet,
    gaussian_adjacency,
    query_transitions,
    random_walk,
    reconstruction_loss,
    transitions,
)
from tests.factories import smooth_stationset

pytestmark = pytest.mark.usefixtures("one_thread")


def _coords(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return 38 + rng.uniform(0, 2, n), 115 + rng.uniform(0, 2, n)


def _dist(lat: np.ndarray, lon: np.ndarray) -> torch.Tensor:
    return torch.tensor(haversine_km(lat, lon, lat, lon), dtype=torch.float32)


@pytest.mark.parametrize("n", [3, 17])
def test_transitions_are_row_stochastic_without_self_loops(n: int) -> None:
    p_f, p_b = transitions(_dist(*_coords(n, n)), sigma_km=50.0)
    assert torch.allclose(p_f.sum(-1), torch.ones(n), atol=1e-5)
    assert torch.allclose(p_b.sum(-1), torch.ones(n), atol=1e-5)
    assert torch.all(torch.diagonal(p_f) == 0)
    # symmetric kernel: the two directions coincide
    assert torch.allclose(p_f, p_b, atol=1e-6)


def test_gaussian_kernel_known_values() -> None:
    d = torch.tensor([[0.0, 50.0], [50.0, 0.0]])
    w = gaussian_adjacency(d, 50.0)
    assert w[0, 1].item() == pytest.approx(np.exp(-1.0), rel=1e-6)
    assert w[0, 0].item() == 0.0


def test_dgcn_matches_hand_computed_order_two() -> None:
    torch.manual_seed(0)
    conv = DiffusionGraphConv(2, 3, order=2)
    x = torch.randn(1, 4, 2)
    p = random_walk(torch.rand(4, 4))
    q = random_walk(torch.rand(4, 4))
    expected = (conv.theta_self(x) + conv.theta_fwd[0](p @ x) + conv.theta_fwd[1](p @ p @ x)
                + conv.theta_bwd[0](q @ x) + conv.theta_bwd[1](q @ q @ x))
    assert torch.allclose(conv(x, p, q), expected, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_queries_equal_receive_only_nodes_of_the_union_graph(order: int) -> None:
    """A query node = a node of the union graph whose outgoing edges are cut."""
    torch.manual_seed(1)
    n, m = 6, 3
    model = IGNNK(window=5, hidden=8, order=order)
    w = torch.rand(n + m, n + m)
    w[:, n:] = 0.0  # nobody receives from a query node
    w.fill_diagonal_(0.0)
    p = random_walk(w)
    x = torch.randn(2, n, 5)
    full = model(torch.cat([x, torch.zeros(2, m, 5)], 1), p, p)
    q = p[n:, :n]
    out_q = model.forward_queries(x, p[:n, :n], p[:n, :n], q, q)
    assert torch.allclose(full[:, :n], model(x, p[:n, :n], p[:n, :n]), atol=1e-5)
    assert torch.allclose(full[:, n:], out_q, atol=1e-5)


def test_query_chunks_are_independent() -> None:
    torch.manual_seed(2)
    lat, lon = _coords(8, 2)
    glat, glon = _coords(10, 3)
    model = IGNNK(window=4, hidden=8, order=2, sigma_km=60.0)
    p_f, p_b = model.transitions(_dist(lat, lon))
    dq = torch.tensor(haversine_km(glat, glon, lat, lon), dtype=torch.float32)
    x = torch.rand(1, 8, 4)
    whole = model.forward_queries(x, p_f, p_b, *query_transitions(dq, 60.0))
    part = model.forward_queries(x, p_f, p_b, *query_transitions(dq[3:7], 60.0))
    assert torch.allclose(whole[:, 3:7], part, atol=1e-6)


def _smooth_field(n: int, t: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat, lon = _coords(n, seed)
    rng = np.random.default_rng(seed)
    base = 0.5 + 0.3 * np.sin(np.arange(t) / 3.0)
    field = base[None, :] * (1 + 0.3 * (lat - 39)[:, None] - 0.2 * (lon - 116)[:, None])
    return lat, lon, (field + 0.01 * rng.standard_normal((n, t))).astype("float32")


def test_overfits_a_small_masked_batch() -> None:
    torch.manual_seed(0)
    lat, lon, sig = _smooth_field(12, 6, seed=4)
    model = IGNNK(window=6, hidden=16, order=2, sigma_km=80.0)
    p_f, p_b = model.transitions(_dist(lat, lon))
    y = torch.tensor(sig).unsqueeze(0)
    mask = torch.zeros(1, 12, 1)
    mask[:, :4] = 1.0  # first four nodes hidden
    x = y * (1 - mask)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(300):
        loss = ((model(x, p_f, p_b) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first
    assert ((model(x, p_f, p_b) - y)[:, :4].abs().mean()) < 0.05


@pytest.mark.parametrize("n", [5, 23])
def test_runs_on_unseen_graph_sizes(n: int) -> None:
    torch.manual_seed(0)
    model = IGNNK(window=24, hidden=8, order=2)
    lat, lon = _coords(n, n)
    p_f, p_b = model.transitions(_dist(lat, lon))
    out = model(torch.rand(2, n, 24), p_f, p_b)
    assert out.shape == (2, n, 24) and torch.isfinite(out).all()


def test_same_seed_same_weights_and_output() -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = IGNNK(window=4, hidden=8)
        p = random_walk(torch.ones(5, 5))
        outs.append(model(torch.ones(1, 5, 4), p, p))
    assert torch.equal(outs[0], outs[1])


def test_sparse_query_rows_equal_dense() -> None:
    torch.manual_seed(3)
    model = IGNNK(window=4, hidden=8, order=2)
    p = random_walk(torch.rand(6, 6))
    idx = torch.tensor([[0, 2], [5, 1], [3, 4]])
    w = random_walk(torch.rand(3, 2))
    dense = torch.zeros(3, 6).scatter_add_(1, idx, w)
    x = torch.rand(2, 6, 4)
    assert torch.allclose(model.forward_queries(x, p, p, dense, dense),
                          model.forward_queries(x, p, p, (idx, w), (idx, w)), atol=1e-6)


# --- the engine-facing module, its loss, checkpoint and Kriger ---------------------------------------


_stations = partial(smooth_stationset, code_prefix="I", city="天津")  # Tianjin stations, a daily cycle


def _batch(ds: xr.Dataset, hidden: np.ndarray, length: int = 24) -> dict:
    obs = np.broadcast_to(~hidden, (2, length, len(hidden)))
    return make_batch(prepare(ds), np.array([0, 24]), length, obs)


@pytest.mark.parametrize("length", [24, 7])
def test_net_on_engine_batch(length: int) -> None:
    torch.manual_seed(0)
    ds = _stations(9, 3, seed=1)
    net = IGNNKNet(window=24, hidden=8).eval()
    out = net(_batch(ds, np.arange(9) < 3, length))
    assert out["pred"].shape == (2, length, 9) and (out["pred"] >= 0).all()
    assert torch.equal(out["subgraph"], torch.ones(2, 9))


def test_training_mode_cuts_a_random_subgraph() -> None:
    torch.manual_seed(0)
    ds = _stations(40, 3, seed=2)
    net = IGNNKNet(window=24, hidden=8, sub_lo=0.5, sub_hi=0.5).train()
    keep = net(_batch(ds, np.zeros(40, bool)))["subgraph"]
    assert 0.25 < keep.mean().item() < 0.75 and not torch.equal(keep[0], keep[1])


def test_reconstruction_loss_is_mse_on_subgraph_nodes() -> None:
    y = torch.tensor([[[100.0, 200.0, 50.0]]])
    out = {"recon": torch.tensor([[[1.5, 2.0, 0.0]]]), "pred": torch.zeros(1, 1, 3),
           "subgraph": torch.tensor([[1.0, 1.0, 0.0]]), "scale": torch.tensor(100.0)}
    batch = {"y": y, "y_mask": torch.ones(1, 1, 3), "loss_mask": torch.tensor([[[1.0, 0.0, 0.0]]])}
    loss, _ = reconstruction_loss(out, batch, None)
    assert loss.item() == pytest.approx((0.5 ** 2 + 0.0) / 2)  # node 3 is outside the sub-graph


SMALL = {"hidden": 8, "batch_size": 4, "epochs": 1, "steps_per_epoch": 12, "val_windows": 4}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, xr.Dataset]:
    root = tmp_path_factory.mktemp("models")
    ds = _stations(12, 31, seed=3)
    train(SPEC, ds, overrides=SMALL, device="cpu", seed=0, out_root=root, progress=False)
    return root, ds


def test_checkpoint_round_trip_with_grid(trained: tuple[Path, xr.Dataset]) -> None:
    root, ds = trained
    kriger = get_model("ignnk", root=root, device="cpu")
    hidden = np.zeros(12, bool)
    hidden[[1, 5]] = True
    res = infer(kriger, ds, ~hidden, grid=GridSpec.from_bbox((115.5, 38.5, 117.0, 40.0), 0.5),
                window=Window.of("2019-01-25", "2019-01-25T23"))
    assert res.station_pred.shape == (24, 12) and np.isfinite(res.station_pred.values).all()
    assert res.grid["pm25"].shape == (24, 3, 3) and np.isfinite(res.grid["pm25"].values).all()
    payload = torch.load(root / "ignnk" / "model.pt", weights_only=True)
    assert all(torch.equal(v, kriger.module.state_dict()[k].cpu()) for k, v in payload["state_dict"].items())


def test_unseen_station_set(trained: tuple[Path, xr.Dataset]) -> None:
    root, _ = trained
    other = _stations(21, 2, seed=9)
    res = infer(get_model("ignnk", root=root, device="cpu"), other, np.arange(21) % 3 != 0,
                window=Window.of("2019-01-02", "2019-01-02T23"))
    assert res.station_pred.shape == (24, 21) and np.isfinite(res.station_pred.values).all()


def test_same_seed_same_checkpoint(trained: tuple[Path, xr.Dataset], tmp_path: Path) -> None:
    root, ds = trained
    train(SPEC, ds, overrides=SMALL, device="cpu", seed=0, out_root=tmp_path, progress=False)
    a = torch.load(root / "ignnk" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "ignnk" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
