"""Where AirAtlas finds data, caches and shipped assets.

Data directory resolution (first that exists wins):

1. ``$AIRATLAS_DATA`` if set (it must exist, otherwise :class:`DataNotFound`);
2. ``./data`` relative to the current working directory;
3. ``../shared/data`` relative to the repository root (the team's read-only copy).

The layout under the data directory is ``raw/<dataset>/...`` and ``geo/<layer>/...``.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import DataNotFound

ENV_DATA = "AIRATLAS_DATA"
ENV_CACHE = "AIRATLAS_CACHE"

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS = REPO_ROOT / "assets"
MODELS_DIR = ASSETS / "models"
METRICS_DIR = ASSETS / "metrics"

HOW_TO_GET_DATA = (
    "Get the data with `python -m core data fetch --base-url URL --out data/raw/<name>` (a mirror of the "
    "CNEMC daily archive; see README, section Data), or point "
    f"${ENV_DATA} at a folder that holds raw/<dataset>/ (e.g. the team's ../shared/data)."
)


def candidate_data_dirs() -> list[Path]:
    """Data directories in the order they are tried."""
    env = os.environ.get(ENV_DATA)
    if env:
        return [Path(env).expanduser()]
    return [Path.cwd() / "data", REPO_ROOT.parent / "shared" / "data"]


def data_dir() -> Path:
    """The data directory to use; raises :class:`DataNotFound` with instructions if none exists."""
    candidates = candidate_data_dirs()
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise DataNotFound(f"No AirAtlas data directory found (tried: {tried}). {HOW_TO_GET_DATA}")


def dataset_dir(name: str) -> Path:
    """``<data dir>/raw/<name>``; raises :class:`DataNotFound` naming the available datasets."""
    root = data_dir() / "raw"
    path = root / name
    if not path.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise DataNotFound(
            f"Dataset '{name}' not found under {root}. Available: {', '.join(available) or 'none'}. "
            f"{HOW_TO_GET_DATA}"
        )
    return path


def geo_dir() -> Path:
    """``<data dir>/geo`` (boundaries, census, population grid, offline basemap)."""
    path = data_dir() / "geo"
    if not path.is_dir():
        raise DataNotFound(f"Geographic layers not found at {path}. {HOW_TO_GET_DATA}")
    return path


def cache_dir() -> Path:
    """Cache for parsed datasets: ``$AIRATLAS_CACHE`` or ``~/.cache/airatlas``."""
    path = Path(os.environ.get(ENV_CACHE, Path.home() / ".cache" / "airatlas")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
