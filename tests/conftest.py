"""Shared fixtures: an isolated cache per test session, the real-data folder when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from core.paths import REPO_ROOT

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Property-based tests: modest example counts so the suite stays fast on 2 cores; no per-example
# deadline (a loaded CI machine is slow, not wrong). HYPOTHESIS_PROFILE=thorough for a longer hunt.
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or pollute the user's ~/.cache/airatlas; one cache per test session."""
    monkeypatch.setenv("AIRATLAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    # No dashboard warm-up thread behind the AppTests (it would fill caches the tests clear); the browser
    # tests' server turns it on again.
    monkeypatch.setenv("AIRATLAS_PREFETCH", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data); tests that need it are skipped without it."""
    if not (SHARED_DATA / "raw").is_dir():
        pytest.skip("real data (../shared/data) not present")
    return SHARED_DATA
