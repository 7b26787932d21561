"""Completion markers: one small JSON per finished work item, next to the store (``<out>.work/``).

A marker is only trusted when it names this run (the spec's fingerprint), this very store (the
random ``reanalysis_store_id`` written into the store when it was created: a store deleted and
made again gets a new id, so old markers no longer count) and when the item's region, read back
from the store, still has the sha256 the marker recorded right after the write. A chunk deleted
or corrupted later therefore makes its item pending again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from core.reanalysis.work import WorkItem


def marker_dir(out: Path) -> Path:
    return Path(str(out) + ".work")


def marker_path(out: Path, item: WorkItem) -> Path:
    return marker_dir(out) / f"{item.name}.done"


def digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=np.float32).tobytes()).hexdigest()


def region_digest(group, item: WorkItem, variables: list[str]) -> dict[str, str]:
    """sha256 of each variable's float32 bytes over the item's region, as read from the zarr ``group``."""
    sl = tuple(item.region().values())
    return {v: digest(group[v][sl]) for v in variables}


def write_marker(out: Path, item: WorkItem, fingerprint: str, store_id: str, digest: dict[str, str]) -> None:
    """Atomically write the item's marker (a kill leaves either no marker or a whole one)."""
    d = marker_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    final = marker_path(out, item)
    tmp = final.with_suffix(f".tmp{os.getpid()}")
    body = {"fingerprint": fingerprint, "store_id": store_id, "item": item.name,
            "region": {k: [s.start, s.stop] for k, s in item.region().items()}, "sha256": digest}
    tmp.write_text(json.dumps(body))
    tmp.replace(final)


def read_marker(out: Path, item: WorkItem) -> dict | None:
    """The marker's content, or None when absent or unreadable (then the item is simply pending)."""
    try:
        return json.loads(marker_path(out, item).read_text())
    except (OSError, ValueError):
        return None


def trusted(marker: dict | None, item: WorkItem, fingerprint: str, store_id: str) -> bool:
    """The marker names this run, this store and this item's region (checksums are checked apart)."""
    return bool(marker) and marker.get("fingerprint") == fingerprint and marker.get("store_id") == store_id \
        and marker.get("item") == item.name \
        and marker.get("region") == {k: [s.start, s.stop] for k, s in item.region().items()} \
        and isinstance(marker.get("sha256"), dict)


def drop_markers(out: Path) -> None:
    shutil.rmtree(marker_dir(out), ignore_errors=True)
