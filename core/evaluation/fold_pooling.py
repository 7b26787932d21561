"""Pool validation reports of one protocol over validation station folds into one report.

``evaluate --split val --fold F`` scores one fold (15 of the 60 non-test BTH stations, hidden and scored as
``S_test`` is on test days). One fold's MAE differences of 1–2 % are within its stations' sampling noise
(stop 23's station bootstrap), so the validation tables and the dashboard's default model read every fold's
report at once: each metric is the cell-weighted mean over the folds (``n`` cells each), exactly what scoring
the union of the folds' cells gives for MAE, bias, RMSE (through the mean square), coverage and mean width.
R² is not poolable from the reports (it needs each fold's truth variance) and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

POOLED = ("mae", "bias", "coverage", "interval_width")  # cell-weighted means of the folds' figures


def pool_metrics(parts: Sequence[dict]) -> dict:
    """One metrics block (``mae``, ``rmse``, ``bias``, ``n``, ``coverage``, ``interval_width``, ``level``) from the
    blocks of disjoint cell sets; a key missing from any block is left out. µg/m³ as in the blocks."""
    parts = [p for p in parts if isinstance(p, dict) and p.get("n")]
    if not parts:
        return {}
    n = sum(int(p["n"]) for p in parts)
    out: dict = {"n": n}
    for k in POOLED:
        if all(p.get(k) is not None for p in parts):
            out[k] = sum(float(p[k]) * int(p["n"]) for p in parts) / n
    if all(p.get("rmse") is not None for p in parts):
        out["rmse"] = math.sqrt(sum(float(p["rmse"]) ** 2 * int(p["n"]) for p in parts) / n)
    levels = {p.get("level") for p in parts}
    if len(levels) == 1 and None not in levels:
        out["level"] = levels.pop()
    own = [p.get("own_interval") for p in parts]
    if all(isinstance(o, dict) for o in own):
        inner = pool_metrics([o | {"n": p["n"]} for o, p in zip(own, parts, strict=True)])
        out["own_interval"] = {k: v for k, v in inner.items() if k != "n"} | {"kind": own[0].get("kind")}
    return out


def _pooled_entry(blocks: Sequence[dict]) -> dict:
    """A model's block (its metrics, ``by_season`` and ``runs``) pooled over the folds' blocks."""
    out = pool_metrics(blocks)
    seasons = dict.fromkeys(s for b in blocks for s in (b.get("by_season") or {}))
    per = {s: pool_metrics([(b.get("by_season") or {}).get(s) or {} for b in blocks]) for s in seasons}
    out["by_season"] = {s: m for s, m in per.items() if m}  # a season no fold scored stays out
    out["runs"] = [r for b in blocks for r in b.get("runs", [])]
    if all("by_station" in b for b in blocks):  # reports before per-station sums have none to pool
        out["by_station"] = sum_by_station([b["by_station"] for b in blocks])
    return out


def sum_by_station(parts: Sequence[dict[str, dict]]) -> dict[str, dict]:
    """Per-station sums (:func:`core.evaluation.runner.station_sums`) of several reports added station by station
    (folds score disjoint stations, so their union; a station in two parts has its sums added)."""
    out: dict[str, dict] = {}
    for part in parts:
        for code, sums in part.items():
            acc = out.setdefault(code, {})
            for k, v in sums.items():
                acc[k] = acc.get(k, 0) + v
    return out


def pool_folds(reports: Sequence[dict]) -> dict:
    """One report from ``evaluate --split val`` reports of the same model and protocol on distinct folds.

    The result keeps the report's shape (``model``, ``protocol``, ``split``, ``metrics``, ``by_season``, ``runs``,
    ``baselines``, ``ratio_to_idw``); ``val_fold`` becomes the sorted list of folds, ``val_stations`` the stations
    scored over all of them (``test_stations``, removed in every fold, stays as it is), and a baseline is kept
    only if every fold's report holds it. A single report is returned unchanged. Raises ``ValueError`` for
    reports of different models, protocols or splits, or a fold given twice (its cells would count twice).
    """
    reports = list(reports)
    if len(reports) == 1:
        return reports[0]
    if not reports:
        raise ValueError("no report to pool")
    for key in ("model", "protocol", "split", "dataset"):
        seen = {r.get(key) for r in reports}
        if len(seen) > 1:
            raise ValueError(f"cannot pool reports of different {key}s: {sorted(map(str, seen))}")
    folds = [r.get("val_fold") for r in reports]
    if None in folds or len(set(folds)) != len(folds):
        raise ValueError(f"pooling needs one report per validation fold, got folds {folds}")
    main = _pooled_entry([r["metrics"] | {"by_season": r.get("by_season", {}), "runs": r.get("runs", [])}
                          | ({"by_station": r["by_station"]} if "by_station" in r else {}) for r in reports])
    names = [b for b in reports[0].get("baselines", {})
             if all("error" not in r.get("baselines", {}).get(b, {"error": 1}) for r in reports)]
    baselines = {b: _pooled_entry([r["baselines"][b] for r in reports])
                 | {"params": reports[0]["baselines"][b].get("params", {})} for b in names}
    idw = (baselines.get("idw") or {}).get("mae")
    order = sorted(range(len(reports)), key=lambda i: folds[i])
    return reports[order[0]] | {
        "metrics": {k: v for k, v in main.items() if k not in ("by_season", "runs", "by_station")},
        "by_season": main["by_season"], "runs": main["runs"], "baselines": baselines,
        **({"by_station": main["by_station"]} if "by_station" in main else {}),
        "ratio_to_idw": main["mae"] / idw if idw and main.get("mae") is not None else None,
        "val_fold": sorted(folds),
        "val_stations": list(dict.fromkeys(s for i in order for s in reports[i].get("val_stations", []))),
    }


def pool_validation(evals: Sequence[dict]) -> list[dict]:
    """``evals`` with every group of validation reports (same model, protocol and dataset; ``val_fold`` set) replaced
    by its pooled report (:func:`pool_folds`); other reports pass through in their order. Of two reports of the
    same fold, the later one (file order) wins."""
    out: list[dict] = []
    groups: dict[tuple, dict[int, dict]] = {}
    for e in evals:
        if e.get("split") == "val" and e.get("val_fold") is not None:
            key = (e.get("model"), e.get("protocol"), e.get("dataset"))
            if key not in groups:
                groups[key] = {}
                out.append({"_pool": key})
            groups[key][int(e["val_fold"])] = e
        else:
            out.append(e)
    return [pool_folds(list(groups[e["_pool"]].values())) if "_pool" in e else e for e in out]
