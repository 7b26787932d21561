import json

import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.baselines.ok import OrdinaryKriging
from core.errors import CorruptFile
from core.evaluation.report import END, START, render, update_readme
from core.evaluation.runner import evaluate


@pytest.fixture(scope="module")
def metrics_dir(region, tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics")
    models = {"idw": IDW(2.0), "ok": OrdinaryKriging(), "knn": KNN()}
    for proto in ("holdout", "mask-30", "mask-50"):
        rep = evaluate("idw", proto, stations=region, seeds=2, models=models, baselines=("ok", "knn"))
        (d / f"idw_{proto}.json").write_text(json.dumps(rep))
    (d / "bench.json").write_text(json.dumps({"spin_s": 0.25, "ok_s": 6.0, "ratio": 24.0,
                                                          "load_average_1min": 1.4}))
    (d / "ablations.json").write_text(json.dumps({"variants": {"no_advection": {"mae": 7.5, "rmse": 10.0}}}))
    return d


def test_render_tables(metrics_dir):
    md = render(metrics_dir)
    for title in ("Masking curve", "Holdout", "Seasons, mask-50", "Ablations", "Speed"):
        assert title in md
    assert "sparse-30km (" not in md  # no report for it: no empty table
    assert " ± " in md and "| no_advection | 7.50 |" in md and "| 24.0× | 1.40 |" in md
    rep = json.loads((metrics_dir / "idw_mask-50.json").read_text())
    assert f"{rep['baselines']['ok']['mae']:.2f}" in md


def test_readme_only_changes_between_markers(metrics_dir, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{START}\nold table\n{END}\n\nfooter\n")
    assert update_readme(readme, render(metrics_dir))
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith(f"{END}\n\nfooter\n")
    assert "old table" not in text and "Masking curve" in text
    assert not update_readme(readme, render(metrics_dir))  # idempotent


def test_markers_are_created_when_absent(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    update_readme(readme, "body\n")
    assert readme.read_text() == f"# Title\n\n{START}\nbody\n{END}\n"


def test_corrupt_json_is_named(tmp_path):
    (tmp_path / "idw_holdout.json").write_text("{not json")
    with pytest.raises(CorruptFile, match="idw_holdout.json"):
        render(tmp_path)


def test_reanalysis_benchmark_section(tmp_path):
    import json

    from core.evaluation.report import reanalysis_table

    assert reanalysis_table(tmp_path) == ""
    run = {"mode": "single process", "workers": 0, "wall_s": 2.0, "cell_hours_per_s": 104520,
           "cell_hours_per_s_per_worker": 104520, "s_per_item_per_worker": 0.5, "peak_rss_mb_per_worker": 900}
    one = {"spec": {"model": "idw", "start": "2019-01-10T00:00:00", "res": 0.1}, "grid": [356, 616], "hours": 6,
           "items": 28, "items_in_domain": 15, "cells_in_domain": 95000, "runs": [run], "variables": ["pm25"]}
    bench = {"national": one, "bth_1km": one,
             "memory_vs_tiles": [{"tiles": 1, "peak_rss_mb": 1500}, {"tiles": 4, "peak_rss_mb": 1510}],
             "national_1km": {"cells": 21929600, "cells_in_domain": 9511075, "tiles": 2232, "tiles_in_domain": 1090,
                              "tile_cells": 100,
                              "projection": {"items": 397850, "block_hours": 24, "s_per_item": 0.5,
                                             "worker_hours": 55, "hours_with_8_workers": 1.0,
                                             "hours_with_32_workers": 0.5, "hours_with_128_workers": 0.1,
                                             "storage_tb_raw_float32": 0.33, "memory_per_worker_mb": 900}},
             "machine": {"cpu_count": 2, "mem_gb": 24, "load_average": [5.0, 4.0, 3.0]}}
    (tmp_path / "reanalysis_bench.json").write_text(json.dumps(bench))
    text = reanalysis_table(tmp_path)
    assert "| single process | 2.0 | 104,520 | 104,520 | 0.5 | 900 |" in text
    assert "1.0 h on 8 workers" in text and "1 tile(s) 1500 MB; 4 tile(s) 1510 MB" in text
    assert "load average 5.0, 4.0, 3.0" in text
    # the current layout: a projected month, the national/BTH throughput ratio, RSS while items run
    one["month_projection"] = [{"workers": 0, "mode": "single process", "projected_wall_h": 0.07,
                                "from_measured_hours": 24, "month_hours": 744}]
    bench["national"] = one
    bench["throughput_per_worker_national_over_bth"] = {"single process": {"cell_hours_per_s_per_worker": 0.91,
                                                                           "s_per_item_bth_over_national": 1.3}}
    bench["memory_vs_tiles"] = [{"tiles": t, "rss_mb_after_data_load": 1200, "peak_rss_mb_while_items_run": 1400 + t}
                                for t in (1, 4)]
    bench["machine"]["load_average_at_start"] = [2.0, 2.5, 3.0]
    (tmp_path / "reanalysis_bench.json").write_text(json.dumps(bench))
    text = reanalysis_table(tmp_path)
    assert "projected from the measured 24 h" in text and "single process 0.07 h" in text
    assert "single process 0.91 in cell-hours/s (1.30 in seconds per item)" in text
    assert "4 tile(s) 1,404 MB peak while the items run (1,200 MB after loading data and model)" in text
    assert "load average 2.0, 2.5, 3.0 at the start, 5.0, 4.0, 3.0 at the end" in text


def test_validation_path_and_interval_columns_are_kept_apart(region, tmp_path):
    import numpy as np

    from core.intervals import CalibratedKriger, fit_table

    rng = np.random.default_rng(0)
    pred = rng.uniform(20, 100, 2000)
    table = fit_table("idw", pred, pred * np.exp(rng.normal(0, 0.2, 2000)), rng.uniform(0, 60, 2000),
                      np.full(2000, np.datetime64("2019-01-05")))
    cal = CalibratedKriger(IDW(2.0), table)
    for split in ("test", "val"):
        rep = evaluate("idw", "mask-50", stations=region, seeds=2, models={"idw": cal, "knn": KNN()},
                       baselines=("knn",), split=split)
        (tmp_path / f"{'val_' if split == 'val' else ''}idw_mask-50.json").write_text(json.dumps(rep))
    rep = evaluate("knn", "holdout", stations=region, models={"knn": KNN()}, baselines=())
    (tmp_path / "path_knn_holdout.json").write_text(json.dumps(rep))
    (tmp_path / "ablations_val.json").write_text(json.dumps({"split": "val", "variants": {"no-terrain": {"mae": 9.1}}}))
    md = render(tmp_path)
    assert "90% coverage" in md and "Validation days, mask-50" in md and "Another period and station set" in md
    val_part = md.split("Validation days, mask-50")[1].split("####")[0]
    test_part = md.split("#### mask-50")[1].split("####")[0]
    v = json.loads((tmp_path / "val_idw_mask-50.json").read_text())
    t = json.loads((tmp_path / "idw_mask-50.json").read_text())
    assert f"{v['metrics']['mae']:.2f}" in val_part and f"{t['metrics']['mae']:.2f}" in test_part
    assert f"{t['metrics']['coverage']:.3f}" in test_part
    assert "| no-terrain | 9.10 |" in md.split("Ablations on validation days")[1].split("####")[0]
    from core.evaluation.selection import ranking_on_validation

    best = min(("idw", v["metrics"]["mae"]), ("knn", v["baselines"]["knn"]["mae"]), key=lambda x: x[1])[0]
    assert ranking_on_validation(tmp_path)[0] == best


def test_ablation_table_shows_each_variants_budget(tmp_path) -> None:
    """Variants compared in one file state their trainer validation MAE and optimizer steps."""
    (tmp_path / "ablations_val_x.json").write_text(json.dumps({"split": "val", "arch": "spin-2", "variants": {
        "spin-control": {"mae": 9.1, "val": {"val_mae": 13.13, "steps_run": 160}},
        "spin-no-advection": {"mae": 9.2, "val": {"val_mae": 13.16, "steps_run": 160}}}}))
    part = render(tmp_path).split("Ablations on validation days")[1].split("####")[0]
    assert "| spin-2 | spin-control | 9.10 |" in part and "| 13.13 | 160 |" in part and "| 13.16 | 160 |" in part


def test_choices_note_states_spins_validation_chosen_ok_k(tmp_path):
    from core.evaluation.report import choices_note

    metrics, spin = tmp_path / "metrics", tmp_path / "models" / "spin"
    metrics.mkdir()
    spin.mkdir(parents=True)
    block = {"format": 1, "hparams": {"ok_k": 16}, "trained_with": {"ok_k": 10}, "protocols": ["holdout", "mask-50"],
             "val_mae": {"10": {}, "16": {}}}
    (spin / "card.json").write_text(json.dumps({"inference": block}))
    note = choices_note(metrics)
    assert "`ok_k`: 16 (trained with 10; tried 10, 16;" in note and "holdout, mask-50" in note
    (spin / "card.json").write_text(json.dumps({}))
    assert "ok_k" not in choices_note(metrics)


def test_choices_note_states_spins_validation_chosen_corr_scale(tmp_path):
    from core.evaluation.report import choices_note

    metrics, spin = tmp_path / "metrics", tmp_path / "models" / "spin"
    metrics.mkdir()
    spin.mkdir(parents=True)
    cell = {"holdout": {"mae": 1.0, "logok_mae": 1.1}}
    block = {"format": 1, "hparams": {"ok_k": 16, "corr_scale": 0.7}, "trained_with": {"ok_k": 16, "corr_scale": 1.0},
             "protocols": ["holdout"], "val_mae": {"10": {"1.0": cell, "0.7": cell}, "16": {"1.0": cell, "0.7": cell}}}
    (spin / "card.json").write_text(json.dumps({"inference": block}))
    note = choices_note(metrics)
    assert "`ok_k` 16 (trained with 16; tried 10, 16)" in note
    assert "`corr_scale` 0.7 (trained at 1; tried 0.7, 1.0)" in note and "over holdout" in note
    tried = [{"seed": 2, "worst_ratio_to_logok": 0.97, "ok_k": 16, "corr_scale": 0.7},
             {"seed": 3, "worst_ratio_to_logok": 0.99, "ok_k": 24, "corr_scale": 1.0}]
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": [{"seed": 2, "val_mae": 12.0}],
                                                "inference": block | {"checkpoints_tried": tried}}))
    note = choices_note(metrics)
    assert "seed 2, chosen by `tune` among training runs" in note
    assert "seed 3, aux_dropout 0.0: 0.9900 (ok_k 24, corr_scale 1.0)" in note
    assert "the lowest validation MAE (µg/m³, trainer's" not in note
    recipes = [{"seed": 2, "val_mae": 12.0, "hparams": {"aux_dropout": 0.25, "train_margin_deg": 0.5,
                                                         "subnet_size": None}},
               {"seed": 3, "val_mae": 12.4, "hparams": {"aux_dropout": 0.25, "train_margin_deg": None,
                                                         "subnet_size": 150}}]
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes,
                                                "inference": block | {"checkpoints_tried": tried}}))
    note = choices_note(metrics)  # runs of different recipes are told apart (fitted values never reach the card)
    assert "seed 2, aux_dropout 0.25, train_margin_deg 0.5, subnet_size whole graph: 0.9700" in note
    assert "seed 3, aux_dropout 0.25, train_margin_deg all, subnet_size 150: 0.9900" in note
    flagged = [r | {"hparams": r["hparams"] | {"loo_inputs": v}} for r, v in zip(recipes, (None, True), strict=True)]
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": flagged,
                                                "inference": block | {"checkpoints_tried": tried}}))
    note = choices_note(metrics)  # a card from before the flag lists it as off, not as unknown
    assert "subnet_size whole graph, loo_inputs False: 0.9700" in note and "loo_inputs True: 0.9900" in note
    chunked = [t | {"chunk_hours": h} for t in tried for h in (48, 72)]
    block = block | {"hparams": block["hparams"] | {"chunk_hours": 72},
                     "trained_with": block["trained_with"] | {"chunk_hours": 48}, "checkpoints_tried": chunked,
                     "chunk_hours_tried": [48, 72]}
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes, "inference": block}))
    note = choices_note(metrics)  # the chunk length is a choice too, stated with what it was weighed against
    assert "(ok_k 24, corr_scale 1.0, chunk_hours 72)" in note
    assert "`chunk_hours` 72 h (a window is read in near-equal chunks; trained on 48-h windows; tried 48, 72)" in note
    assert "variogram" not in note  # cards tuned before the variogram setting say nothing of it
    varied = [t | {"variogram": v} for t in chunked for v in ("trained", "window")]
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes, "inference": block | {
        "hparams": block["hparams"] | {"variogram": "window"}, "checkpoints_tried": varied,
        "variograms_tried": ["trained", "window"]}}))
    note = choices_note(metrics)  # and the variogram too
    assert "(ok_k 24, corr_scale 1.0, chunk_hours 72, variogram window)" in note
    assert ("kriging-init variogram `variogram` window (`trained`: fitted on training days; `window`: refitted on "
            "each inference window's observed stations; `auto`: refitted only on a window whose observed stations "
            "span less than the trained range; tried trained, window)") in note
    assert "runs compared by the tune of" not in note
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes, "inference": block | {
        "hparams": block["hparams"] | {"variogram": "auto"}, "checkpoints_tried": varied,
        "variograms_tried": ["trained", "window", "auto"], "checkpoints_compared": "2026-12-05T03:10:00+00:00"}}))
    note = choices_note(metrics)  # the shipped checkpoint retuned alone: the runs' comparison is dated
    assert "runs compared by the tune of 2026-12-05, the settings below retuned on the shipped checkpoint alone" in note
    assert "`variogram` auto (" in note and "tried trained, window, auto)" in note
    assert "Earlier tunes" not in note
    earlier = {"created": "2026-12-06T01:33:45+00:00", "hparams": {"ok_k": 16, "corr_scale": 0.7, "variogram": "auto"},
               "ok_k_tried": [16], "variograms_tried": ["trained", "window", "auto"], "chunk_hours_tried": [48],
               "worst_ratio_to_logok": 0.9556}
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes, "inference": block | {
        "hparams": block["hparams"] | {"variogram": "auto"}, "earlier_tunes": [earlier]}}))
    note = choices_note(metrics)  # a retune shows its own grid; what earlier tunes of the checkpoint settled is listed
    assert ("Earlier tunes of this checkpoint, same rule (a retune's grid above shows only its own candidates): "
            "2026-12-06 01:33 UTC chose ok_k 16, corr_scale 0.7, variogram auto (tried ok_k 16; variogram trained, "
            "window, auto; chunk_hours 48; worst ratio 0.9556).") in note
    replaced = earlier | {"runs_compared_at": "2026-12-05T23:38:08+00:00", "runs_compared": [
        {"seed": 3, "run": "/runs/a", "worst_ratio_to_logok": 0.9556, "variogram": "window"},
        {"seed": 4, "run": "/runs/b", "worst_ratio_to_logok": 0.9613, "variogram": "window"}]}
    (spin / "card.json").write_text(json.dumps({"chosen_seed": 2, "seeds_tried": recipes, "inference": block | {
        "hparams": block["hparams"] | {"variogram": "auto"}, "earlier_tunes": [replaced]}}))
    note = choices_note(metrics)  # a later comparison of runs replaced this one on the card: it is listed with its tune
    assert ("worst ratio 0.9556; runs compared on 2026-12-05: seed 3 0.9556 (variogram window), seed 4 0.9613 "
            "(variogram window)).") in note
    tried = [{"seed": 3, "run": "/runs/w48", "worst_ratio_to_logok": 0.9867, "ok_k": 16, "corr_scale": 1.0},
             {"seed": 3, "run": "/runs/w72", "worst_ratio_to_logok": 0.9908, "ok_k": 16, "corr_scale": 1.0}]
    for suffix in ("/spin", ""):  # seeds_tried named <run>/spin before 2026-12-05, <run> (as tune does) since
        same_seed = [{"seed": 3, "val_mae": 12.2, "run": f"/runs/w48{suffix}", "train_minutes": 22.02,
                      "hparams": {"aux_dropout": 0.25, "window": 48}},
                     {"seed": 3, "val_mae": 13.3, "run": f"/runs/w72{suffix}",
                      "hparams": {"aux_dropout": 0.25, "window": 72}}]
        (spin / "card.json").write_text(json.dumps({"chosen_seed": 3, "seeds_tried": same_seed,
                                                    "inference": block | {"checkpoints_tried": tried}}))
        note = choices_note(metrics)  # two runs of one seed keep their own recipes (matched by folder, not seed)
        assert "seed 3, aux_dropout 0.25, window 48, 22.0 min: 0.9867" in note  # how long it trained, when known
        assert "seed 3, aux_dropout 0.25, window 72: 0.9908" in note
    assert "ok_nugget" not in note


@pytest.mark.parametrize("folds, said", [([0, 1, 2, 3], "scored on validation station folds 0, 1, 2, 3 pooled"),
                                         ([0], "scored on S_val alone"), (None, "scored on S_val alone")])
def test_choices_note_says_which_validation_stations_each_choice_was_scored_on(tmp_path, folds, said):
    from core.evaluation.report import choices_note

    metrics, models = tmp_path / "metrics", tmp_path / "models"
    metrics.mkdir()
    for name in ("idw", "logok", "spin"):
        (models / name).mkdir(parents=True)
    extra = {"val_folds": folds} if folds is not None else {}
    (models / "idw" / "card.json").write_text(json.dumps({"power_by_protocol": {"holdout": 2.0}} | extra))
    (models / "logok" / "card.json").write_text(json.dumps({"backtransform": "expm1"} | extra))
    (models / "spin" / "intervals.json").write_text(json.dumps({"level": 0.9, "meta": extra}))
    (models / "spin" / "card.json").write_text(json.dumps({"inference": {
        "hparams": {"ok_k": 16, "corr_scale": 0.6}, "trained_with": {}, "protocols": ["holdout"],
        "val_mae": {"16": {"0.6": {}}}} | extra}))
    lines = choices_note(metrics).splitlines()
    for start in ("- IDW power", "- logok back-transform", "- 90% intervals", "- spin inference settings"):
        (line,) = [x for x in lines if x.startswith(start)]
        assert said in line, line


def test_choices_note_names_the_shipped_seed_among_those_tried(tmp_path):
    from core.evaluation.report import choices_note

    metrics, spin = tmp_path / "metrics", tmp_path / "models" / "spin"
    metrics.mkdir()
    spin.mkdir(parents=True)
    tried = [{"seed": 0, "val_mae": 12.29}, {"seed": 1, "val_mae": 12.5}]
    (spin / "card.json").write_text(json.dumps({"seed": 0, "chosen_seed": 0, "seeds_tried": tried}))
    assert "spin checkpoint: seed 0, the lowest validation MAE" in choices_note(metrics)
    assert "seeds 0 (12.29), 1 (12.50)" in choices_note(metrics)
    (spin / "card.json").write_text(json.dumps({"seed": 0}))
    assert "spin checkpoint" not in choices_note(metrics)


@pytest.mark.parametrize("with_sums", [True, False])
def test_bootstrap_table_states_each_protocols_sampling_noise(region, tmp_path, with_sums):
    """spin's test reports with per-station sums get a row per protocol (ratios to IDW and logok and coverage, each
    with its station-bootstrap interval, in protocol order, --path last); reports without the sums get no table."""
    from core.baselines.logok import LogOrdinaryKriging
    from core.evaluation.report import bootstrap_table
    from core.evaluation.station_bootstrap import ratio_interval

    models = {"spin": KNN(), "idw": IDW(2.0), "logok": LogOrdinaryKriging()}  # any Kriger stands for spin here
    evals = [json.loads(json.dumps(evaluate("spin", p, stations=region, models=models, baselines=("idw", "logok"))))
             for p in ("sparse-30km", "holdout")]
    path = [evals[1] | {"dataset": "/data/raw/aqi36_stmvl"}]
    if not with_sums:
        for e in evals:
            e.pop("by_station")
        assert bootstrap_table(evals) == ""
        return
    md = bootstrap_table(evals, "spin", path)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "stations" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| holdout", "| sparse-30km", "| holdout, `--path …/aqi36_stmvl`"]
    want = ratio_interval(evals[1]["by_station"], evals[1]["baselines"]["idw"]["by_station"])
    assert f"{want['ratio']:.3f} [{want['lo']:.3f}, {want['hi']:.3f}]" in rows[0]
    assert rows[0].endswith("| – |")  # KNN gives no interval: no coverage
    assert "2000 resamples" in md
    val = [e | {"split": "val"} for e in evals]  # the same reports as validation ones: rows on that split only
    assert bootstrap_table(evals, "spin", split="val") == ""
    assert bootstrap_table(val, "spin", split="val").count("| holdout |") == 1
