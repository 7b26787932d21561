"""Experiment drivers: what an ablation report states about each variant's training budget."""

from __future__ import annotations

import pytest

from core.evaluation.experiments import budget_of


@pytest.mark.parametrize(("card", "expected"), [
    ({"steps_run": 160, "stopped": "epochs", "hparams": {"steps_per_epoch": 80}, "history": [{}, {}]}, 160),
    ({"stopped": "step budget", "hparams": {"steps_per_epoch": 80}, "history": [{}] * 5}, 400),
    ({"stopped": "time cap 12.0 min", "hparams": {"steps_per_epoch": 80}, "history": [{}]}, None),
])
def test_budget_of_reads_steps_from_the_card(card: dict, expected) -> None:
    """An ablation report states each variant's step budget; a time-capped old card has no known count."""
    got = budget_of(card)
    assert got["steps_run"] == expected and got["steps_per_epoch"] == 80 and got["stopped"] == card["stopped"]
