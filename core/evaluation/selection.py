"""Model selection on validation days: which model is best, read from the validation reports."""

from __future__ import annotations

import json
from pathlib import Path


def ranking_on_validation(metrics_dir: Path, protocol: str = "mask-50") -> list[str]:
    """Model names ordered by validation MAE on ``protocol`` (``evaluate --split val`` reports in
    ``metrics_dir``: each report's model and its baselines); [] when there is no validation report."""
    maes: dict[str, float] = {}
    for f in sorted(Path(metrics_dir).glob("*.json")):
        try:
            rep = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(rep, dict) or rep.get("split") != "val" or rep.get("protocol") != protocol:
            continue
        entries = {rep["model"]: rep.get("metrics", {})} | {k: v for k, v in rep.get("baselines", {}).items()}
        for name, m in entries.items():
            if isinstance(m, dict) and m.get("mae") is not None:
                maes.setdefault(name, float(m["mae"]))
    return sorted(maes, key=maes.get)
