"""Model selection on validation days: which model is best, read from the validation reports."""

from __future__ import annotations

import json
from pathlib import Path

from core.evaluation.fold_pooling import pool_validation


def validation_reports(metrics_dir: Path, protocol: str = "mask-50") -> list[dict]:
    """The ``evaluate --split val`` reports of ``protocol`` in ``metrics_dir``, pooled over the validation station
    folds reported (:func:`core.evaluation.fold_pooling.pool_validation`); unreadable files are skipped."""
    reports = []
    for f in sorted(Path(metrics_dir).glob("*.json")):
        try:
            rep = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rep, dict) and rep.get("split") == "val" and rep.get("protocol") == protocol:
            reports.append(rep)
    return pool_validation(reports)


def rank_models(reports: list[dict]) -> list[str]:
    """Model names ordered by MAE over ``reports`` (each report's model and its baselines; the first report that
    holds a model gives its MAE)."""
    maes: dict[str, float] = {}
    for rep in reports:
        entries = {rep["model"]: rep.get("metrics", {})} | {k: v for k, v in rep.get("baselines", {}).items()}
        for name, m in entries.items():
            if isinstance(m, dict) and m.get("mae") is not None:
                maes.setdefault(name, float(m["mae"]))
    return sorted(maes, key=maes.get)


def ranking_on_validation(metrics_dir: Path, protocol: str = "mask-50") -> list[str]:
    """Model names ordered by validation MAE on ``protocol`` (:func:`validation_reports`); [] when there is no
    validation report."""
    return rank_models(validation_reports(metrics_dir, protocol))
