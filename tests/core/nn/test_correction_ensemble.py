"""CorrectionEnsemble: the members' mean correction over one shared init, at the nodes and on grid targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine.masking import sample_hidden
from core.nn.ensemble import CorrectionEnsemble
from core.nn.features import TargetPoints, make_batch, prepare, to_ugm3
from core.nn.models.spin import SPIN, build

TINY = {"hidden": 8, "n_layers": 1, "tcn_layers": 1, "readout_dim": 4, "target_k": 4, "graph_k": 6}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def batch():
    from core.data.synthetic import SimConfig, simulate

    world = simulate(SimConfig.small(n_hours=24, spinup_hours=12, res=0.25, seed=5))
    nodes = prepare(world.stations.drop_vars(["u10", "v10"]).isel(station=slice(0, 30)))
    hidden = sample_hidden(np.random.default_rng(0), np.ones(nodes.n_nodes, bool), 2, 12, 0.3, 0.5)
    tp = TargetPoints.build(np.array([39.0, 40.0, 38.5]), np.array([116.0, 117.0, 115.5]), nodes, k=4)
    return make_batch(nodes, np.arange(2) * 3, 12, ~hidden, targets=tp)


def _spins(seeds: list[int], **hp) -> list[SPIN]:
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(SPIN(**TINY, **hp).eval())
    return out


@pytest.mark.parametrize(("corr_scale", "loo_inputs"), [(1.0, False), (0.6, False), (1.0, True)])
def test_identical_members_serve_what_one_serves(batch, corr_scale: float, loo_inputs: bool) -> None:
    one = _spins([1], corr_scale=corr_scale, loo_inputs=loo_inputs)[0]
    twin = _spins([1], corr_scale=corr_scale, loo_inputs=loo_inputs)[0]
    ens = CorrectionEnsemble([one, twin]).eval()
    with torch.no_grad():
        a, b = one(batch), ens(batch)
    for key in ("pred", "grid_pred", "init_pred", "influence_diffusion", "wind_u"):
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("n_members", [2, 3])
def test_serves_the_mean_correction_over_the_shared_init(batch, n_members: int) -> None:
    members = _spins(list(range(n_members)))
    ens = CorrectionEnsemble(members).eval()
    with torch.no_grad():
        out = ens(batch)
        singles = [m(batch) for m in members]
        init = members[0].node_init(batch)
        states = [m.encode(batch)[1] for m in members]
        t_init = members[0].target_init(batch)
        t_corr = [m.target_correction(batch, s, t_init) for m, s in zip(members, states, strict=True)]
    expect = to_ugm3(init + torch.stack([s["corr"] for s in states]).mean(0), batch["center"])
    torch.testing.assert_close(out["pred"], expect)
    torch.testing.assert_close(out["grid_pred"], to_ugm3(t_init + torch.stack(t_corr).mean(0), batch["center"]))
    # the members differ, and the ensemble lies between the extremes of their predictions
    assert not torch.allclose(singles[0]["pred"], singles[1]["pred"])
    lo = torch.stack([s["pred"] for s in singles]).min(0).values
    hi = torch.stack([s["pred"] for s in singles]).max(0).values
    assert bool(((out["pred"] >= lo - 1e-3) & (out["pred"] <= hi + 1e-3)).all())


def test_build_reads_members_and_prefixes_weights() -> None:
    assert isinstance(build({**TINY}), SPIN)
    assert isinstance(build({**TINY, "members": 1}), SPIN)
    ens = build({**TINY, "members": 2})
    assert isinstance(ens, CorrectionEnsemble) and len(ens.members) == 2
    keys = list(ens.state_dict())
    assert keys and all(k.startswith(("members.0.", "members.1.")) for k in keys)
    assert len(keys) == 2 * len(SPIN(**TINY).state_dict())


def test_refuses_one_member_and_training(batch) -> None:
    with pytest.raises(ValueError, match="at least two members"):
        CorrectionEnsemble(_spins([0]))
    ens = CorrectionEnsemble(_spins([0, 1])).train()
    with pytest.raises(RuntimeError, match="assembled from trained runs"):
        ens(batch)
