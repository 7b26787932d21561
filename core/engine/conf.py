"""Per-model hyper-parameter files: ``core/conf/<name>.yaml`` (the settings a model is trained with)."""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def load_conf(name: str) -> dict:
    """Hyper-parameters from ``core/conf/<name>.yaml`` (empty when there is none)."""
    import yaml

    path = CONF_DIR / f"{name}.yaml"
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}
