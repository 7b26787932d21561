"""Ship the best-on-validation training run (e.g. one per seed) as a model's checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.contracts.registry import get_spec
from core.engine.checkpoint import model_dir
from core.errors import DataNotFound


def run_card(model: str, run: Path) -> dict:
    """The card of the run ``run`` (a folder given to ``train --out``, holding ``<model>/card.json``)."""
    card_path = Path(run) / model / "card.json"
    if not card_path.is_file():
        raise DataNotFound(f"{card_path} not found: train with `python -m core train --model {model} --out {run}`.")
    return json.loads(card_path.read_text())


def run_folder(run: str | Path, model: str) -> str:
    """A training run's folder (what ``train --out`` was given) as a card names it: ``<run>``, or ``<run>/<model>``
    in ``seeds_tried`` of cards written before 2026-12-05."""
    p = Path(run)
    return str(p.parent if p.name == model else p)


ALWAYS_SHOWN = ("aux_dropout", "sparse_share")  # the recipe knobs every seeds_tried entry has listed


def recipe_keys(hparams: list[dict], exclude: tuple[str, ...] = ()) -> list[str]:
    """Training hyper-parameters a ``seeds_tried`` entry lists: :data:`ALWAYS_SHOWN` and every other one whose value
    differs between the runs (e.g. ``train_margin_deg``, ``subnet_size``), so runs of different recipes are told
    apart; ``exclude``: keys that are not the recipe (the spec's fitted and inference hyper-parameters)."""
    keys = dict.fromkeys(k for h in hparams for k in h)
    differ = [k for k in keys if k not in exclude and len({json.dumps(h.get(k), sort_keys=True) for h in hparams}) > 1]
    return list(ALWAYS_SHOWN) + [k for k in differ if k not in ALWAYS_SHOWN]


def ship_run(model: str, chosen: Path, runs: list[Path], dest: Path | None, selection: str) -> dict:
    """Copy run ``chosen`` (one of ``runs``) to ``dest/<model>`` (default assets/models) as the shipped checkpoint.

    Its card records every run's seed, validation MAE and minutes (``seeds_tried``), the chosen seed and the rule
    ``selection`` that chose it. Returns the shipped card.
    """
    cards = {Path(r): run_card(model, r) for r in runs}
    card = dict(cards[Path(chosen)])
    spec = get_spec(model)
    # a key a run's card lacks was added after the run: the run had its default (defaults keep the old behaviour)
    hps = {r: spec.hparams(c.get("hparams", {})) for r, c in cards.items()}
    shown = recipe_keys(list(hps.values()), spec.fitted_hparams + spec.inference_hparams)
    card["seeds_tried"] = [{"seed": c["seed"], "val_mae": c["metrics"]["val_mae"],
                            "val_idw_mae": c["metrics"].get("val_idw_mae"), "best_epoch": c["metrics"]["best_epoch"],
                            "train_minutes": c.get("train_minutes"), "stopped": c.get("stopped"),
                            "hparams": {k: hps[r].get(k) for k in shown},
                            "run": str(Path(r))} for r, c in cards.items()]  # as `tune` names it
    card.update({k: v for k, v in spec.notes.items() if k not in card})
    card["chosen_seed"] = card["seed"]
    card["selection"] = selection
    out = model_dir(model, dest)
    out.mkdir(parents=True, exist_ok=True)
    if (Path(chosen) / model).resolve() != out.resolve():  # re-choosing the shipped checkpoint itself
        shutil.copyfile(Path(chosen) / model / "model.pt", out / "model.pt")
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return card


def select_best(model: str, runs: list[Path], dest: Path | None = None) -> dict:
    """Ship the run with the lowest trainer validation MAE among ``runs`` (see :func:`ship_run`)."""
    best = min(runs, key=lambda r: run_card(model, r)["metrics"]["val_mae"])
    card = ship_run(model, best, runs, dest, "lowest validation MAE (fixed hidden sets of the card's 'validation' "
                                             "block) among seeds_tried")
    return {"chosen_seed": card["seed"], "val_mae": card["metrics"]["val_mae"], "out": str(model_dir(model, dest)),
            "seeds_tried": card["seeds_tried"]}
