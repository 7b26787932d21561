"""Ship the best-on-validation training run (e.g. one per seed) as a model's checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.contracts.registry import get_spec
from core.engine.checkpoint import model_dir
from core.errors import DataNotFound


def select_best(model: str, runs: list[Path], dest: Path | None = None) -> dict:
    """Ship the run with the lowest validation MAE among ``runs`` (folders holding ``<model>/card.json``).

    Copies its ``model.pt`` and card to ``dest/<model>`` (default assets/models) and records in the card
    every candidate's seed, validation MAE and minutes, and which one was chosen.
    """
    cands = []
    for run in runs:
        card_path = Path(run) / model / "card.json"
        if not card_path.is_file():
            raise DataNotFound(f"{card_path} not found: train with `python -m core train --model {model} --out {run}`.")
        card = json.loads(card_path.read_text())
        cands.append((card["metrics"]["val_mae"], Path(run) / model, card))
    val, src, card = min(cands, key=lambda c: c[0])
    card["seeds_tried"] = [{"seed": c["seed"], "val_mae": c["metrics"]["val_mae"],
                            "val_idw_mae": c["metrics"].get("val_idw_mae"), "best_epoch": c["metrics"]["best_epoch"],
                            "train_minutes": c.get("train_minutes"), "stopped": c.get("stopped"), "run": str(r)}
                           for _, r, c in cands]
    card.update({k: v for k, v in get_spec(model).notes.items() if k not in card})
    card["chosen_seed"] = card["seed"]
    card["selection"] = "lowest validation MAE (fixed hidden sets of the card's 'validation' block) among seeds_tried"
    out = model_dir(model, dest)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.pt", out / "model.pt")
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return {"chosen_seed": card["seed"], "val_mae": val, "out": str(out), "seeds_tried": card["seeds_tried"]}
