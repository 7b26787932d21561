"""Hotspots worth acting on: above-threshold areas split into local peaks, ranked by people × excess.

Pure functions on a ``(lat, lon)`` PM2.5 field (µg/m³), used by the dashboard and anything else.

- threshold: an absolute value (GB 3095 Grade II 75, WHO 15, custom) or, in relative mode, the
  day's regional median + a margin (what stands out when everything is high);
- split: every connected above-threshold area (8-neighbour) is divided into the catchments of its
  local peaks (a watershed by flooding from the top, cells in descending order); a peak whose
  prominence — its height above the highest saddle to a higher peak — is below ``min_prominence``
  joins that higher peak, so noise does not make hotspots;
- confidence: "confirmed" when the 90 % interval's lower bound at the peak exceeds the threshold,
  "possible" otherwise, "no interval" when the model gives none;
- hidden: the peak is more than ``hidden_km`` (10 km) from every observed monitor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidRequest
from core.geo import haversine_km

HIDDEN_KM = 10.0
DEFAULT_PROMINENCE = 10.0  # µg/m³
CONFIRMED, POSSIBLE, NO_INTERVAL = "confirmed", "possible", "no interval"
COLUMNS = ["rank", "districts", "people", "peak", "mean", "area_km2", "confidence", "nearest_monitor_km",
           "hidden", "peak_lat", "peak_lon", "peak_lo", "peak_hi", "burden", "excess", "cells"]


@dataclass(frozen=True)
class Threshold:
    """What 'above' means: ``mode`` "absolute" (``value`` µg/m³) or "relative" (median + ``value``)."""

    mode: str
    value: float

    def level(self, field: np.ndarray) -> float:
        """The threshold in µg/m³ for this field."""
        if self.mode == "absolute":
            return float(self.value)
        if self.mode == "relative":
            finite = np.asarray(field, float)[np.isfinite(field)]
            if not len(finite):
                raise InvalidRequest("The surface has no finite value: no regional median to compare with.")
            return float(np.median(finite) + self.value)
        raise InvalidRequest(f"Threshold mode must be 'absolute' or 'relative' (got {self.mode!r}).")


def cell_area_km2(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Area (km²) of each cell of a regular grid, shape (lat, lon)."""
    dlat = abs(lat[-1] - lat[0]) / max(len(lat) - 1, 1)
    dlon = abs(lon[-1] - lon[0]) / max(len(lon) - 1, 1)
    km_lat = 111.195 * dlat
    km_lon = 111.195 * dlon * np.cos(np.radians(lat))
    return np.repeat((km_lat * km_lon)[:, None], len(lon), axis=1)


def split_peaks(field: np.ndarray, above: np.ndarray, min_prominence: float = DEFAULT_PROMINENCE) -> np.ndarray:
    """Label ``(lat, lon)``: 0 outside ``above``, k ≥ 1 = catchment of the k-th surviving peak.

    Union–find over cells taken from the highest down: a cell with no labelled neighbour starts a
    peak; one that touches two regions is their saddle, and the lower region merges into the higher
    when its peak is less than ``min_prominence`` above the saddle (the first saddle met is the
    highest, so the decision is final).
    """
    f = np.asarray(field, float)
    ok = np.asarray(above, bool) & np.isfinite(f)
    n_lat, n_lon = f.shape
    flat = f.ravel()
    order = np.flatnonzero(ok.ravel())
    order = order[np.argsort(-flat[order], kind="stable")]
    parent = np.full(flat.size, -1, dtype=np.int64)  # -1: not processed yet
    peak = {}  # root → its peak value

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    for c in order:
        r, q = divmod(int(c), n_lon)
        roots = set()
        for dr, dq in offsets:
            rr, qq = r + dr, q + dq
            if 0 <= rr < n_lat and 0 <= qq < n_lon:
                nb = rr * n_lon + qq
                if parent[nb] >= 0:
                    roots.add(find(nb))
        if not roots:
            parent[c] = c
            peak[c] = flat[c]
            continue
        ranked = sorted(roots, key=lambda x: -peak[x])
        top = ranked[0]
        parent[c] = top
        for other in ranked[1:]:
            if peak[other] - flat[c] < min_prominence:
                parent[other] = top
    labels = np.zeros(flat.size, dtype=np.int64)
    roots = {}
    for c in order:
        root = find(int(c))
        labels[c] = roots.setdefault(root, len(roots) + 1)
    return labels.reshape(f.shape)


def hotspot_table(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, threshold: Threshold,
                  monitors: tuple[np.ndarray, np.ndarray] | None = None, lo: np.ndarray | None = None,
                  hi: np.ndarray | None = None, people: np.ndarray | None = None,
                  district: np.ndarray | None = None, min_prominence: float = DEFAULT_PROMINENCE,
                  hidden_km: float = HIDDEN_KM) -> tuple[np.ndarray, pd.DataFrame, float]:
    """Local hotspots of ``field`` ``(lat, lon)`` µg/m³; returns (rank image, table, threshold µg/m³).

    ``monitors``: (lat, lon) of observed stations; ``lo``/``hi``: the 90 % interval ``(lat, lon)``;
    ``people``: persons per cell; ``district``: names per cell ('' outside). Rows are ranked by
    ``burden`` = Σ people × (value − threshold) (µg/m³·persons; by ``excess`` = Σ area × (value −
    threshold), µg/m³·km², when ``people`` is None). The rank image holds each cell's hotspot rank.
    """
    field = np.asarray(field, float)
    level = threshold.level(field)
    above = np.isfinite(field) & (field > level)
    labels = split_peaks(field, above, min_prominence)
    area = cell_area_km2(lat, lon)
    pop = np.zeros_like(field) if people is None else np.nan_to_num(np.asarray(people, float))
    la, lo_ = np.meshgrid(lat, lon, indexing="ij")
    rows = []
    for k in range(1, int(labels.max()) + 1):
        sel = labels == k
        vals, w = field[sel], area[sel]
        i = np.flatnonzero(sel.ravel())[int(np.argmax(vals))]
        p_lat, p_lon = float(la.ravel()[i]), float(lo_.ravel()[i])
        p_lo = float(np.asarray(lo).ravel()[i]) if lo is not None else float("nan")
        p_hi = float(np.asarray(hi).ravel()[i]) if hi is not None else float("nan")
        conf = NO_INTERVAL if lo is None or not np.isfinite(p_lo) else (CONFIRMED if p_lo > level else POSSIBLE)
        near = float("nan")
        if monitors is not None and len(monitors[0]):
            near = float(haversine_km(np.array([p_lat]), np.array([p_lon]), monitors[0], monitors[1]).min())
        names = ""
        if district is not None:
            d = pd.Series(np.asarray(district)[sel])
            d = d[d != ""]
            names = ", ".join(d.value_counts().index[:3]) + (" …" if d.nunique() > 3 else "")
        rows.append({
            "districts": names, "people": float(pop[sel].sum()), "peak": float(vals.max()),
            "mean": float((vals * w).sum() / w.sum()), "area_km2": float(w.sum()), "confidence": conf,
            "nearest_monitor_km": near, "hidden": bool(np.isfinite(near) and near > hidden_km),
            "peak_lat": p_lat, "peak_lon": p_lon, "peak_lo": p_lo, "peak_hi": p_hi,
            "burden": float(((vals - level) * pop[sel]).sum()), "excess": float(((vals - level) * w).sum()),
            "cells": int(sel.sum()), "_label": k,
        })
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"] + ["_label"])
    key = "burden" if people is not None else "excess"
    table = table.sort_values([key, "peak"], ascending=False).reset_index(drop=True)
    ranked = np.zeros_like(labels)
    for rank, lab in enumerate(table["_label"], start=1):
        ranked[labels == lab] = rank
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return ranked, table.drop(columns="_label"), level


def people_text(n: float) -> str:
    """People for reading: 1.2 million, 35 thousand, 800."""
    if not np.isfinite(n):
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} million"
    if n >= 1e4:
        return f"{n / 1e3:.0f} thousand"
    return f"{n:,.0f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The ranked table with units in headers and numbers formatted for people."""
    return pd.DataFrame({
        "rank": table["rank"],
        "districts": table["districts"],
        "people inside": table["people"].map(people_text),
        "peak (µg/m³)": table["peak"].round(0).astype(int),
        "90 % interval at peak (µg/m³)": [
            "–" if not np.isfinite(a) else f"{a:.0f}–{b:.0f}" for a, b in zip(table["peak_lo"], table["peak_hi"],
                                                                               strict=True)],
        "mean (µg/m³)": table["mean"].round(0).astype(int),
        "area (km²)": table["area_km2"].round(0).astype(int),
        "confidence": table["confidence"],
        "nearest monitor (km)": table["nearest_monitor_km"].round(1),
        "hidden (>10 km from a monitor)": table["hidden"].map({True: "yes", False: "no"}),
    })
