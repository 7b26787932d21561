"""core.contracts.provenance: the commit and data hash stamped on reports."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts import provenance


def _ds(values, codes=("A", "B"), **attrs) -> xr.Dataset:
    return xr.Dataset({"pm25": (("time", "station"), np.asarray(values, "float32"))},
                      coords={"station": list(codes)}, attrs=attrs)


def test_the_loaders_hash_wins_else_values_and_codes_are_hashed():
    assert provenance.data_sha256(_ds([[1, 2]], input_sha256="abc")) == "abc"
    base = provenance.data_sha256(_ds([[1, 2]]))
    assert len(base) == 64 and base == provenance.data_sha256(_ds([[1, 2]]))
    assert base != provenance.data_sha256(_ds([[1, 3]]))
    assert base != provenance.data_sha256(_ds([[1, 2]], codes=("A", "C")))


def test_commit_is_a_hash_in_a_checkout_and_unknown_without_git(monkeypatch, tmp_path):
    commit = provenance.git_commit()
    assert commit == provenance.UNKNOWN_COMMIT or (len(commit) == 40 and int(commit, 16) >= 0)
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)  # not a git checkout
    assert provenance.git_commit() == provenance.UNKNOWN_COMMIT


@pytest.fixture(autouse=True)
def _no_git_env(monkeypatch):
    # GIT_DIR from an outer hook would point git at another repository
    monkeypatch.delenv("GIT_DIR", raising=False)
