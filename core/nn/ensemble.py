"""An ensemble of trained correction networks that share one initial estimate (spin's ``members`` > 1).

Each member is a network trained on its own seed that adds a correction to a classical init on the normalised
log scale (:class:`core.nn.models.spin.SPIN`). The ensemble solves the init once (the members' inits are the same
computation: same variogram, same candidates) and serves the init plus the MEAN of the members' served
corrections. Why the mean of corrections: the seeds' corrections share the signal and differ in their noise, so
the mean keeps the one and shrinks the other, as ``corr_scale`` shrinks a single network's, without a bias toward
the init. Members are never trained together: ``python -m core ensemble`` assembles trained runs.

A member must offer ``node_estimate(batch)``, ``node_init(batch, estimate)``, ``encode(batch, init=, estimate=)``
(state with ``corr``), ``target_init(batch)``
and ``target_correction(batch, state, t_init)``. Outputs are µg/m³ like a member's.
"""

from __future__ import annotations

import torch
from torch import nn

from core.nn.features import to_ugm3


class CorrectionEnsemble(nn.Module):
    """``forward(batch) -> {"pred", "init_pred", ...}``: the members' mean correction over one shared init."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        self.members = nn.ModuleList(members)

    @property
    def first(self) -> nn.Module:
        return self.members[0]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.training:
            raise RuntimeError("an ensemble is assembled from trained runs (python -m core ensemble), not trained")
        out, state = self.encode(batch)
        if "tgt_idx" in batch:
            out["grid_pred"] = self.read_targets(batch, state)
        return out

    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
        """Station side: the shared init (B, L, N) plus the members' mean served correction; outputs every member
        gives (``init_pred``, wind, influence) are averaged (init_pred and wind on their own scales)."""
        estimate = self.first.node_estimate(batch) if self.first.init_mode == "logok" else None
        init = self.first.node_init(batch, estimate[0] if estimate is not None else None)
        outs, states = zip(*(m.encode(batch, init=init, estimate=estimate) for m in self.members), strict=True)
        center = batch["center"]
        corr = torch.stack([s["corr"] for s in states]).mean(0)
        out: dict[str, torch.Tensor] = {"pred": to_ugm3(init + corr, center)}
        for key in outs[0]:
            if key != "pred":
                out[key] = torch.stack([o[key] for o in outs]).mean(0)
        return out, {"members": states, "init": init, "center": center, "corr": corr}

    def read_targets(self, batch: dict[str, torch.Tensor], state: dict) -> torch.Tensor:
        """``grid_pred`` (B, L, M) µg/m³: the shared target init plus the members' mean served correction."""
        t_init = self.first.target_init(batch)
        corr = torch.stack([m.target_correction(batch, s, t_init)
                            for m, s in zip(self.members, state["members"], strict=True)]).mean(0)
        return to_ugm3(t_init + corr, state["center"])
