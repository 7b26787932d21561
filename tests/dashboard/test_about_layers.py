"""Pure builders of the About page: curated sources, plain model cards, limitations backed by report figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.errors import AirAtlasError
from core.paths import MODELS_DIR, data_dir
from dashboard import about_layers as al


def _report(model: str, mae: float, idw: float, protocol: str = "holdout", dataset: str = "cnemc_bth_2019",
            coverage: float = 0.9, **baselines: float) -> dict:
    base = {"idw": {"mae": idw, "coverage": 0.88}} | {k: {"mae": v, "coverage": 0.8} for k, v in baselines.items()}
    return {"model": model, "dataset": dataset, "protocol": protocol, "split": "test",
            "test_stations": ["1002A", "1024A"], "times": {"count": 48},
            "metrics": {"mae": mae, "rmse": mae * 1.5, "r2": 0.8, "coverage": coverage, "interval_width": 30.0},
            "baselines": base, "by_season": {"DJF": {"mae": mae * 2}, "JJA": {"mae": mae / 2}},
            "flagged_cells_by_flag": {"stuck": 3}}


CARD = {"name": "spin", "arch_version": "spin-2", "n_parameters": 12345, "dataset": "cnemc_bth_2019",
        "split": {"time": "days 1–20 train", "training_stations": ["a", "b", "c"]}, "test_stations": ["x", "y"],
        "seed": 0, "device": "cpu", "wind": "inferred", "aod": "none", "train_minutes": 3.25,
        "metrics": {"val_mae": 12.3456, "val_idw_mae": 13.9, "best_epoch": 4, "val_hidden_share": 0.5},
        "hparams": {"window": 48, "lr": 0.002}, "history": [{"epoch": 1}], "stopped": "step budget"}
INTERVALS = {"model": "spin", "level": 0.9,
             "meta": {"fitted_on": "cnemc_bth_2019", "split": "val (days 21-23)", "protocols": ["holdout"],
                      "seeds": [0], "bins": "distance × level"}}


def test_every_staged_source_folder_has_a_curated_entry():
    try:
        root = data_dir()
    except AirAtlasError:
        pytest.skip("no data directory")
    present = [f"{p.parent.parent.name}/{p.parent.name}" for p in [*root.glob("raw/*/SOURCE.md"),
                                                                  *root.glob("geo/*/SOURCE.md")]]
    if not present:
        pytest.skip("no SOURCE.md files staged")
    assert al.uncurated(present) == []


def test_uncurated_lists_only_unknown_folders():
    assert al.uncurated(["raw/cnemc_bth_2019", "raw/new_network", "geo/x"]) == ["geo/x", "raw/new_network"]


@pytest.mark.parametrize("src", [*al.SOURCES, al.terrain_source("0.16.1")], ids=lambda s: s.folder or "terrain")
def test_source_blocks_are_complete_and_cite_once(src):
    for field in ("name", "what", "period", "citation", "licence", "link", "used_for"):
        assert getattr(src, field).strip(), field
    assert src.link.startswith("https://")
    md = al.source_markdown(src)
    assert md.count(src.citation) == 1 and "**Licence:**" in md and "**Period:**" in md
    for internal in ("sha256", "SHA256SUMS", "byte-for-byte", "git blob", "Loading hint"):  # staging notes
        assert internal not in md


def test_terrain_source_cites_pvlib_and_the_elevation_origin():
    src = al.terrain_source("9.9")
    assert "doi:10.21105/joss.00884" in src.citation and "Holmgren" in src.citation
    assert "Mapzen" in src.citation and "SRTM" in src.citation and "pvlib 9.9" in src.licence


def test_model_card_is_plain_text_from_the_card():
    reports = [("spin_holdout.json", _report("spin", 8.0, 10.0)),
               ("spin_mask-50.json", _report("spin", 9.0, 10.0, protocol="mask-50", coverage=0.95))]
    card = al.model_card("spin", CARD, INTERVALS, al.test_split_reports(reports, "spin"))
    facts = dict(zip(card.facts["item"], card.facts["value"], strict=True))
    assert "12,345 parameters" in facts["architecture"]
    assert "3 stations" in facts["trained on"] and "2 test stations" in facts["never seen in training"]
    assert "12.35 µg/m³ vs IDW 13.90" in facts["validation MAE (days 21–23)"]
    assert facts["interval"].startswith("90 % interval") and "distance × level" in facts["interval depends on"]
    assert not any("{" in v or "hparams" in v for v in facts.values())  # never raw JSON
    assert card.metrics["MAE (µg/m³)"].tolist() == [8.0, 9.0]
    assert card.metrics["interval covers (%)"].tolist() == [90.0, 95.0]
    assert any("10–20 % lower MAE than IDW" in x for x in card.limits)
    assert any("inferred" in x for x in card.limits)


@pytest.mark.parametrize("chunk, words", [
    ({}, ""), ({"chunk_hours": 72}, ", hours read in chunks of at most 72 h"),
    ({"chunk_hours": None}, ", hours read in chunks as trained"),
    ({"chunk_hours": 48, "variogram": "window"},
     ", hours read in chunks of at most 48 h, kriging-init variogram refitted on each map's observed stations"),
    ({"variogram": "trained"}, ", kriging-init variogram as fitted on training days"),
    ({"variogram": "auto"}, ", kriging-init variogram as fitted on training days, refitted on a map's observed "
                            "stations when they span less than its range"),
])
def test_model_card_states_the_served_settings_and_the_aux_dropout(chunk, words):
    card = CARD | {"hparams": {"window": 48, "aux_dropout": 0.25},
                   "inference": {"hparams": {"ok_k": 16, "corr_scale": 0.6} | chunk}}
    facts = dict(zip(*(al.model_card("spin", card, INTERVALS, []).facts[c] for c in ("item", "value")), strict=True))
    assert facts["run with (chosen on validation days)"] == ("16 kriging-init neighbours, 60 % of the learned "
                                                             "correction to the kriging init" + words)
    assert facts["trained without other pollutants"].startswith("25 % of training windows")
    plain = dict(zip(*(al.model_card("spin", CARD, INTERVALS, []).facts[c] for c in ("item", "value")), strict=True))
    assert "run with (chosen on validation days)" not in plain and "trained without other pollutants" not in plain


def test_an_ensemble_card_names_its_members():
    card = CARD | {"seed": "3+4", "ensemble": "mean correction of 2 networks (seeds 3, 4) trained alike, over one "
                                              "shared init",
                   "members": [{"seed": 3, "val_mae": 12.1917}, {"seed": 4, "val_mae": 12.0612}]}
    facts = dict(zip(*(al.model_card("spin", card, INTERVALS, []).facts[c] for c in ("item", "value")), strict=True))
    assert facts["ensemble"] == ("mean correction of 2 networks (seeds 3, 4) trained alike, over one shared init; "
                                 "members' validation MAE seed 3 12.19, seed 4 12.06 µg/m³")
    assert "seed 3+4" in facts["training"]
    assert "ensemble" not in dict(zip(*(al.model_card("spin", CARD, INTERVALS, []).facts[c]
                                        for c in ("item", "value")), strict=True))


def test_baseline_card_takes_its_figures_from_other_reports():
    reports = [("spin_holdout.json", _report("spin", 8.0, 10.0, knn=12.0)),
               ("aqnet_holdout.json", _report("aqnet", 8.5, 10.0, knn=99.0))]  # same protocol: counted once
    rows = al.test_split_reports(reports, "knn")
    assert len(rows) == 1 and rows[0]["metrics"]["mae"] == 12.0
    card = al.model_card("knn", None, None, rows)
    assert "none tuned" in card.facts["value"].iloc[0]
    assert any("no calibrated interval" in v for v in card.facts["value"])
    assert any("20 % higher MAE than IDW" in x for x in card.limits)
    idw = al.model_card("idw", None, None, al.test_split_reports(reports, "idw"))
    assert "IDW MAE (µg/m³)" not in idw.metrics  # IDW against itself says nothing


@pytest.mark.parametrize("mae", [7.5, 11.25])
def test_limitations_quote_the_report_figures(mae):
    reports = [("spin_holdout.json", _report("spin", mae, 10.0)),
               ("val_spin_holdout.json", _report("spin", 1.0, 2.0) | {"split": "val"}),  # never a test figure
               ("path_aqi36.json", _report("spin", 16.0, 17.0, dataset="../data/raw/aqi36_stmvl", coverage=0.876))]
    flagged = pd.DataFrame({"code": ["3132A"], "name": ["文明里"], "city": ["秦皇岛"], "lat": [37.03], "lon": [119.6]})
    info = {"name": "cnemc_bth_2019", "missing_days": ["2019-04-08"], "partial_days": {"2019-08-23": 1}, "n_bth": 80}
    text = "\n".join(al.limitations(reports, "spin", info, flagged))
    assert f"holdout {mae:.1f} vs 10.0" in text and "1.0 vs 2.0" not in text
    assert f"{2 * mae:.1f} µg/m³ in DJF" in text
    assert "aqi36_stmvl" in text and "87.6 %" in text
    assert "3132A" in text and "37.03 °N" in text and "1 day(s) have no data (2019-04-08)" in text
    assert "80 monitoring stations" in text and "inferred" in text


@pytest.mark.parametrize("name", sorted(p.parent.name for p in MODELS_DIR.glob("*/card.json")))
def test_every_shipped_card_renders_without_raw_json(name):
    card = json.loads((MODELS_DIR / name / "card.json").read_text(encoding="utf-8"))
    out = al.model_card(name, card, None, [])
    assert len(out.facts) >= 2 and out.summary and "no description" not in out.summary
    assert all(isinstance(v, str) and "{" not in v and len(v) < 400 for v in out.facts["value"])


@pytest.mark.parametrize("name", sorted(p.parent.name for p in MODELS_DIR.glob("*/intervals.json")))
def test_card_names_what_the_shipped_interval_depends_on(name):
    # The card must describe the calibration actually shipped (its scale-model terms), not an older method.
    from dashboard.loaders import interval_meta

    meta = interval_meta(name)
    out = al.model_card(name, None, meta, [])
    where = dict(zip(out.facts["item"], out.facts["value"], strict=True))["interval depends on"]
    if meta.get("scale_terms"):
        assert "third-nearest" in where and "normalized split conformal" in where
        assert ("season" in where) == any(t in ("MAM", "JJA", "SON", "DJF") for t in meta["scale_terms"])


@pytest.mark.parametrize("folds, said", [([0, 1, 2, 3], "all 4 validation station folds"), ([0], "S_val"),
                                         (None, "S_val")])
def test_card_says_which_validation_stations_the_interval_was_fitted_on(folds, said):
    meta = {"level": 0.9, "scale_terms": ["const", "log1p_near_km"],
            "meta": {"split": "val (days 21-23)", "fitted_on": "cnemc_bth_2019", "protocols": ["holdout"], "seeds": [0]}
            | ({"val_folds": folds} if folds is not None else {})}
    facts = dict(zip(*al.model_card("idw", None, meta, []).facts[["item", "value"]].T.values, strict=True))
    assert said in facts["interval"] and len(facts["interval"]) < 400


@pytest.mark.parametrize("with_sums", [True, False])
def test_metrics_table_and_limitations_give_each_figures_station_range(with_sums):
    """A report with per-station sums gets its MAE / IDW and coverage station-bootstrap ranges (the same figures
    core.evaluation.station_bootstrap gives), and the limits say how uncertain a coverage figure is; a report
    without them shows none and says nothing of it."""
    from core.evaluation.station_bootstrap import coverage_interval, ratio_interval

    mine = {f"s{i}": {"n": 100, "abs_err": 800.0 + 40 * i, "n_interval": 100, "inside": 80 + i} for i in range(12)}
    idw = {c: {"n": 100, "abs_err": 1000.0 + 10 * i, "n_interval": 0, "inside": 0}
           for i, c in enumerate(mine)}
    rep = _report("spin", 8.0, 10.0)
    if with_sums:
        rep = rep | {"by_station": mine, "baselines": {"idw": rep["baselines"]["idw"] | {"by_station": idw}}}
    row = al.metrics_table([rep]).iloc[0]
    text = "\n".join(al.limitations([("spin_holdout.json", rep)], "spin"))
    if not with_sums:
        assert row[al.RATIO_RANGE] is None and row[al.COVERAGE_RANGE] is None
        assert "resampling the stations" not in text
        return
    r, c = ratio_interval(mine, idw), coverage_interval(mine)
    assert row[al.RATIO_RANGE] == f"{r['lo']:.2f}–{r['hi']:.2f}"
    assert row[al.COVERAGE_RANGE] == f"{100 * c['lo']:.0f}–{100 * c['hi']:.0f} %"
    assert f"could have been {100 * c['lo']:.0f}–{100 * c['hi']:.0f} % in the holdout test" in text
    other = rep | {"dataset": "../data/raw/aqi36_stmvl"}  # another network: its coverage gets its range too
    text = "\n".join(al.limitations([("spin_holdout.json", rep), ("path_aqi36.json", other)], "spin"))
    assert f"interval covered 90.0 % there ({100 * c['lo']:.0f}–{100 * c['hi']:.0f} % over resampled stations)." in text
