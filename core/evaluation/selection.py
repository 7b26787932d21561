"""Model selection on validation days: which model is best, read from the validation reports."""

from __future__ import annotations

import json
from pathlib import Path

from core.evaluation.fold_pooling import pool_validation


def ranking_on_validation(metrics_dir: Path, protocol: str = "mask-50") -> list[str]:
    """Model names ordered by validation MAE on ``protocol`` (``evaluate --split val`` reports in
    ``metrics_dir``: each report's model and its baselines, pooled over the validation station folds reported,
    :func:`core.evaluation.fold_pooling.pool_validation`); [] when there is no validation report."""
    reports = []
    for f in sorted(Path(metrics_dir).glob("*.json")):
        try:
            rep = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rep, dict) and rep.get("split") == "val" and rep.get("protocol") == protocol:
            reports.append(rep)
    maes: dict[str, float] = {}
    for rep in pool_validation(reports):
        entries = {rep["model"]: rep.get("metrics", {})} | {k: v for k, v in rep.get("baselines", {}).items()}
        for name, m in entries.items():
            if isinstance(m, dict) and m.get("mae") is not None:
                maes.setdefault(name, float(m["mae"]))
    return sorted(maes, key=maes.get)
