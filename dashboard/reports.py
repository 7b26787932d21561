"""Evaluation reports (``assets/metrics/*.json``, written by ``python -m core evaluate``) as tables.

Pure pandas; the JSON keys are those :func:`core.evaluation.runner.evaluate` writes: ``model``, ``dataset``,
``protocol``, ``runs`` (per seed: ``mae``), ``metrics``, ``by_season``, ``baselines`` (name → the same).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from core.contracts.seasons import SEASONS

SEASON_ORDER = tuple(SEASONS)  # DJF, MAM, JJA, SON


def _share(protocol: str) -> float | None:
    """``mask-50`` → 0.5; other protocols have no share."""
    if protocol.startswith("mask-"):
        try:
            return int(protocol.split("-", 1)[1]) / 100
        except ValueError:
            return None
    return None


def _entries(report: dict) -> Iterable[tuple[str, dict]]:
    """(model name, metrics block) for the evaluated model and each baseline without an error."""
    if "metrics" in report and "model" in report:
        yield report["model"], {**report["metrics"], "by_season": report.get("by_season", {}),
                                "runs": report.get("runs", [])}
    for name, block in (report.get("baselines") or {}).items():
        if isinstance(block, dict) and "error" not in block and "mae" in block:
            yield name, block


def dataset_label(name: str) -> str:
    """A report's dataset as a name (reports run on a path keep only its last folder)."""
    return str(name).rstrip("/").rsplit("/", 1)[-1]


def long_table(reports: Iterable[tuple[str, dict]], split: str = "test") -> pd.DataFrame:
    """One row per (file, model) of the reports on ``split``: dataset (its name, :func:`dataset_label`), protocol,
    share, mae, rmse, r2, bias, seed std of MAE, n_seeds.

    Only reports that say they ran on ``split`` take part: validation reports (``evaluate --split val``) score other
    stations on other days, and a model that appears only there (as a baseline) must not fill a test table."""
    rows = []
    for fname, rep in reports:
        if not isinstance(rep, dict) or "protocol" not in rep or rep.get("split") != split:
            continue
        for model, m in _entries(rep):
            seed_mae = [r.get("mae") for r in m.get("runs", []) if isinstance(r, dict) and r.get("mae") is not None]
            rows.append({
                "file": fname, "dataset": dataset_label(rep.get("dataset", "")), "protocol": rep["protocol"],
                "share": _share(rep["protocol"]), "model": model, "evaluated": model == rep.get("model"),
                "mae": m.get("mae"), "rmse": m.get("rmse"), "r2": m.get("r2"), "bias": m.get("bias"),
                "std": float(np.std(seed_mae, ddof=1)) if len(seed_mae) > 1 else np.nan, "n_seeds": len(seed_mae),
                "by_season": m.get("by_season") or {},
            })
    cols = ["file", "dataset", "protocol", "share", "model", "evaluated", "mae", "rmse", "r2", "bias", "std",
            "n_seeds", "by_season"]
    df = pd.DataFrame(rows, columns=cols)
    # The same (dataset, protocol, model) can appear in several files (as a baseline of each): prefer the
    # report that evaluated the model itself, then the first file.
    df = df.sort_values(["evaluated", "file"], ascending=[False, True])
    return df.drop_duplicates(["dataset", "protocol", "model"]).reset_index(drop=True)


def curves(table: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """MAE vs share masked: rows of mask-R protocols (columns model, share, mae, std)."""
    t = table[table["share"].notna()]
    if dataset is not None:
        t = t[t["dataset"] == dataset]
    return t[["model", "share", "mae", "std", "n_seeds"]].sort_values(["model", "share"]).reset_index(drop=True)


def season_table(table: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Model × season MAE (µg/m³) for one protocol."""
    t = table[table["protocol"] == protocol]
    rows = []
    for r in t.itertuples():
        row = {"model": r.model}
        for s in SEASON_ORDER:
            row[s] = (r.by_season.get(s) or {}).get("mae") if isinstance(r.by_season, dict) else None
        row["all"] = r.mae
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", *SEASON_ORDER, "all"])


def protocol_table(table: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Metrics per model for one protocol (e.g. sparse-30km)."""
    t = table[table["protocol"] == protocol]
    return t[["model", "dataset", "mae", "rmse", "r2", "bias", "file"]].sort_values("mae").reset_index(drop=True)
