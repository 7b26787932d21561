"""Composite loss: hand-computed L1, AOD term only when AOD is present."""

from __future__ import annotations

import torch

from core.nn.losses import SCALE, LossWeights, aod_gradient_loss, composite_loss, masked_l1


def _batch(with_aod: bool) -> dict:
    y = torch.tensor([[[10.0, 20.0, 30.0]]])
    b = {"y": y, "loss_mask": torch.tensor([[[1.0, 0.0, 1.0]]]),
         "dist": torch.tensor([[0.0, 10.0, 20.0], [10.0, 0.0, 10.0], [20.0, 10.0, 0.0]])}
    if with_aod:
        b["aod"] = torch.tensor([[[0.1, 0.5, 0.2]]])
        b["aod_mask"] = torch.ones(1, 1, 3)
    return b


def test_masked_l1_hand_computed() -> None:
    pred = torch.tensor([[[12.0, 0.0, 25.0]]])
    b = _batch(False)
    assert abs(float(masked_l1(pred, b["y"], b["loss_mask"])) - (2 + 5) / 2 / SCALE) < 1e-7


def test_aod_term_only_with_aod() -> None:
    out = {"pred": torch.tensor([[[12.0, 21.0, 25.0]]]), "init_pred": torch.tensor([[[10.0, 20.0, 30.0]]])}
    w = LossWeights(init=0.5, aod=1.0)
    _, parts_without = composite_loss(out, _batch(False), w)
    _, parts_with = composite_loss(out, _batch(True), w)
    assert "aod" not in parts_without and parts_with["aod"] > 0
    _, parts_zero_w = composite_loss(out, _batch(True), LossWeights(init=0.5, aod=0.0))
    assert "aod" not in parts_zero_w


def test_aod_loss_zero_when_pattern_matches() -> None:
    aod = torch.tensor([[[0.1, 0.3, 0.2]]])
    pred = torch.expm1(2.0 + 3.0 * aod)  # log PM2.5 differences exactly proportional to AOD differences
    dist = torch.tensor([[0.0, 10.0, 20.0], [10.0, 0.0, 10.0], [20.0, 10.0, 0.0]])
    assert float(aod_gradient_loss(pred, aod, torch.ones_like(aod), dist)) < 1e-4
