"""Provenance stamped on every report, card and table: the code commit and the input data hash."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import xarray as xr

from core.paths import REPO_ROOT

UNKNOWN_COMMIT = "unknown"  # outside a git checkout (an unpacked release, a container without .git)


def git_commit() -> str:
    """The checked-out commit of the repository, or :data:`UNKNOWN_COMMIT`."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_COMMIT
    return out or UNKNOWN_COMMIT


def data_sha256(ds: xr.Dataset) -> str:
    """The loader's input sha256 (``input_sha256`` attribute), else a hash of the PM2.5 array and station codes."""
    sha = ds.attrs.get("input_sha256", "")
    if sha:
        return sha
    h = hashlib.sha256(np.ascontiguousarray(ds["pm25"].values).tobytes())
    h.update(",".join(ds["station"].values.astype(str)).encode())
    return h.hexdigest()
