"""Shared fixtures: an isolated cache per test session, the real-data folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.paths import REPO_ROOT

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or pollute the user's ~/.cache/airatlas; one cache per test session."""
    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data); tests that need it are skipped without it."""
    if not (SHARED_DATA / "raw").is_dir():
        pytest.skip("real data (../shared/data) not present")
    return SHARED_DATA
