"""Report only, after the choice: test-day MAE of spin checkpoint × corr_scale variants that `tune` weighed.

    .venv/bin/python -m scripts.spin_variants --variant RUN:SCALE [--variant RUN:SCALE ...]
        [--protocols holdout,mask-50] [--path DIR] [--json OUT]

RUN is a folder given to `train --out` (holding spin/model.pt); SCALE the served share of its learned correction.
Each variant runs through `evaluate` exactly as the shipped model does (the same S_test, hours and hidden sets),
at ``ok_k`` 16, without intervals. The choice itself is made on validation days by `python -m core tune --model
spin`; nothing here feeds back into it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.contracts.settings import DEFAULT_DATASET
from core.engine.models import load_learned
from core.evaluation.runner import evaluate
from core.nn.models.spin import SPEC


def variant_rows(variants: list[tuple[Path, float]], protocols: list[str], path: Path | None = None,
                 ok_k: int = 16) -> list[dict]:
    """One row per (variant, protocol): MAE, bias (µg/m³), scored cells and winter (DJF) MAE on test days."""
    where = {"path": path} if path else {"dataset": DEFAULT_DATASET}
    rows = []
    for run, scale in variants:
        model = load_learned(SPEC, root=run, inference={"ok_k": ok_k, "corr_scale": scale})
        for p in protocols:
            rep = evaluate("spin", p, **where, baselines=(), models={"spin": model})
            m = rep["metrics"]
            rows.append({"run": str(run), "corr_scale": scale, "ok_k": ok_k, "protocol": p,
                         "data": str(path) if path else DEFAULT_DATASET, "mae": round(m["mae"], 3),
                         "bias": round(m["bias"], 3), "n": m["n"],
                         "djf_mae": (rep.get("by_season", {}).get("DJF") or {}).get("mae"),
                         "test_stations": rep["test_stations"], "times": rep["times"]})
            print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("test_stations", "times")}), flush=True)
    return rows


def _variant(text: str) -> tuple[Path, float]:
    run, _, scale = text.rpartition(":")
    if not run:
        raise argparse.ArgumentTypeError(f"--variant wants RUN:SCALE (e.g. runs/seed3:0.6), got {text!r}")
    return Path(run), float(scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", type=_variant, action="append", required=True)
    ap.add_argument("--protocols", default="holdout,mask-50")
    ap.add_argument("--path", type=Path, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = variant_rows(args.variant, args.protocols.split(","), args.path)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
