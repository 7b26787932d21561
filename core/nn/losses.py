"""Composite training loss (all terms on hidden nodes only, in µg/m³ so it matches the MAE we report).

``L = L_infer + w_init · L_init + w_aod · L_aod``

- ``L_infer``: mean |pred − y| on ``loss_mask`` (hidden, known, trainable nodes), ÷ ``SCALE``;
- ``L_init``: the same on the model's initialization head ``init_pred`` (before propagation);
- ``L_readout``: the same on ``readout_pred`` when a model trains a separate grid readout (weight ``readout``);
- ``L_aod``: AOD spatial-gradient consistency — for node pairs closer than ``AOD_PAIR_KM`` with AOD at
  both, differences of ``log1p(pred)`` should follow AOD differences up to a scale ``β`` fitted per batch
  by least squares (so only the *pattern* of AOD counts, not its unit). Active only when the batch
  carries ``aod`` (an AODSource exists) and ``w_aod > 0``; otherwise exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCALE = 50.0  # µg/m³: keeps the loss O(1)
AOD_PAIR_KM = 60.0


@dataclass(frozen=True)
class LossWeights:
    init: float = 0.5
    aod: float = 0.0
    readout: float = 0.5


def masked_l1(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred − y| over ``mask`` (all (B, L, N)), ÷ SCALE; 0 when the mask is empty."""
    n = mask.sum()
    return ((pred - y).abs() * mask).sum() / (n.clamp_min(1.0) * SCALE)


def aod_gradient_loss(pred: torch.Tensor, aod: torch.Tensor, aod_mask: torch.Tensor,
                      dist: torch.Tensor) -> torch.Tensor:
    """AOD spatial-gradient loss. ``pred`` µg/m³, ``aod``/``aod_mask`` (B, L, N), ``dist`` (N, N) km."""
    near = ((dist > 1e-6) & (dist < AOD_PAIR_KM)).to(pred.dtype)  # (N, N)
    pair = aod_mask.unsqueeze(-1) * aod_mask.unsqueeze(-2) * near  # (B, L, N, N)
    if pair.sum() < 1:
        return pred.new_zeros(())
    lp = torch.log1p(pred.clamp_min(0.0))
    dp = lp.unsqueeze(-1) - lp.unsqueeze(-2)
    da = aod.unsqueeze(-1) - aod.unsqueeze(-2)
    with torch.no_grad():  # scale of AOD → log PM2.5, fitted on this batch
        beta = (dp * da * pair).sum() / ((da * da * pair).sum() + 1e-6)
    return ((dp - beta * da).abs() * pair).sum() / pair.sum()


def composite_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                   weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (floats, for logging)."""
    lm = batch["loss_mask"]
    parts = {"infer": masked_l1(out["pred"], batch["y"], lm)}
    if weights.init > 0 and "init_pred" in out:
        parts["init"] = masked_l1(out["init_pred"], batch["y"], lm)
    if weights.readout > 0 and "readout_pred" in out:
        parts["readout"] = masked_l1(out["readout_pred"], batch["y"], lm)
    if weights.aod > 0 and "aod" in batch:
        parts["aod"] = aod_gradient_loss(out["pred"], batch["aod"], batch["aod_mask"], batch["dist"])
    total = (parts["infer"] + weights.init * parts.get("init", 0.0) + weights.aod * parts.get("aod", 0.0)
             + weights.readout * parts.get("readout", 0.0))
    return total, {k: float(v.detach()) for k, v in parts.items()}
