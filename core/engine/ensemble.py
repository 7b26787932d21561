"""Assemble trained runs of one recipe into an ensemble checkpoint (``python -m core ensemble``).

The runs (folders given to ``train --out``, one per seed) must share the architecture, every hyper-parameter, the
dataset, its sha256 and ``S_test``: the ensemble then holds each run's weights under ``members.<i>.`` and
hyper-parameters with ``members`` = the number of runs (:func:`core.nn.models.spin.build`), and serves the
members' mean correction over one shared init (:class:`core.nn.ensemble.CorrectionEnsemble`). Its card lists the
members and carries the trainer's validation MAE of the ensemble itself, scored exactly as each member's was
(:func:`core.engine.trainer.validate`: the same windows and fixed hidden sets), so ``tune --run`` compares the
ensemble with single runs on equal terms.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.contracts.model_spec import module_hparams
from core.contracts.provenance import git_commit
from core.contracts.registry import get_spec
from core.engine.checkpoint import load_checkpoint, save_checkpoint
from core.engine.device import resolve_device
from core.errors import InvalidRequest

# the card keys every member must agree on: the same data, split and test stations (no member saw S_test)
SHARED_CARD_KEYS = ("dataset", "data_sha256", "test_stations")
# card keys carried over from the first member (equal across members by the checks above, or static notes)
CARRIED_CARD_KEYS = ("dataset", "data_sha256", "split", "test_stations", "wind", "aod", "validation")


def _differences(items: list[dict], keys) -> list[str]:
    return [k for k in keys if len({json.dumps(d.get(k), sort_keys=True, default=str) for d in items}) > 1]


def _training_set(card: dict, run: Path, model: str):
    """The StationSet a run was trained on: the card's ``dataset`` (a folder under <data>/raw, or the folder a
    ``train --path`` run named); refused with advice when the card names none that exists here."""
    from core.data.load import load_stationset
    from core.errors import DataNotFound
    from core.paths import dataset_dir

    name = str(card.get("dataset") or "")
    if name and Path(name).expanduser().is_dir():
        return load_stationset(path=name)
    try:
        if name and dataset_dir(name).is_dir():
            return load_stationset(dataset=name)
    except DataNotFound:
        pass
    raise InvalidRequest(f"{Path(run) / model / 'card.json'}: names the training data {name!r}, which is not a "
                         f"dataset under <data>/raw or a folder here, so the ensemble cannot be scored on the "
                         f"members' validation windows. Assemble the runs where their data is.")


def assemble(model: str, runs: list[Path], dest: Path, *, data=None, device: str = "cpu") -> dict:
    """Write ``dest/<model>/`` (model.pt + card.json): the ensemble of the ``runs``' checkpoints; returns its card.

    ``data``: the :class:`~core.engine.trainer.TrainData` the members were validated on (default: rebuilt from
    the members' dataset exactly as training built it), used to score the ensemble's own validation MAE.
    Refused with :class:`InvalidRequest` when ``dest`` holds a checkpoint of the model already, the model cannot
    ensemble, fewer than two runs are given, or the runs differ in architecture, hyper-parameters, data or test
    stations (and which).
    """
    from core.engine.trainer import prepare_training_data, validate, validation_data

    spec = get_spec(model)
    if not spec.ensembles:
        raise InvalidRequest(f"{model} cannot be assembled into an ensemble (its spec has ensembles=False).")
    runs = [Path(r) for r in runs]
    taken = Path(dest) / model / "model.pt"
    if taken.exists():  # a run, the shipped checkpoint or an earlier ensemble: never overwritten
        raise InvalidRequest(f"{taken} exists already; give `--out` a folder without a {model} checkpoint "
                             f"(an ensemble never replaces a trained run or the shipped model).")
    if len(runs) < 2 or len(set(p.resolve() for p in runs)) < len(runs):
        raise InvalidRequest(f"An ensemble needs at least two different runs, got {[str(r) for r in runs]}.")
    loaded = [load_checkpoint(model, spec.arch_version, r) for r in runs]
    payloads, cards = [p for p, _ in loaded], [c for _, c in loaded]
    nested = [str(r) for r, p in zip(runs, payloads, strict=True) if int(p["hparams"].get("members", 1)) != 1]
    if nested:
        raise InvalidRequest(f"{', '.join(nested)}: already an ensemble; give the single training runs instead.")
    hps = [p["hparams"] for p in payloads]
    differ = _differences(hps, sorted({k for h in hps for k in h}))
    if differ:
        raise InvalidRequest(f"The runs differ in hyper-parameters {', '.join(differ)}: an ensemble's members share "
                             f"one recipe. Train the runs with the same settings (only --seed may differ).")
    differ = _differences(cards, SHARED_CARD_KEYS)
    if differ:
        raise InvalidRequest(f"The runs differ in {', '.join(differ)}: members must be trained on the same data "
                             f"with the same test stations.")
    hp = {**hps[0], "members": len(runs)}
    module = spec.build(module_hparams(hp))
    module.load_state_dict({f"members.{i}.{k}": v for i, p in enumerate(payloads)
                            for k, v in p["state_dict"].items()})
    dev = resolve_device(device)
    module = module.to(dev).eval()
    if data is None:
        ds = _training_set(cards[0], runs[0], model)
        data = prepare_training_data(ds, hp["window"], predict=hp["predict"], margin_deg=hp["train_margin_deg"],
                                     test_codes=cards[0]["test_stations"])
    val = validate(module, validation_data(data, hp), hp, dev)  # leaves the module in training mode: saved as is
    seeds = [c.get("seed") for c in cards]
    card = {k: cards[0][k] for k in CARRIED_CARD_KEYS if k in cards[0]}
    card.update(spec.notes)
    card.update({
        "seed": "+".join(str(s) for s in seeds),
        "device": str(dev),
        "metrics": {"val_mae": val["val_mae"], "val_idw_mae": val["val_idw_mae"],
                    "best_epoch": ", ".join(str(c["metrics"].get("best_epoch")) for c in cards),
                    "val_hidden_share": cards[0]["metrics"].get("val_hidden_share")},
        "members": [{"seed": c.get("seed"), "run": str(r), "model_sha256": c.get("model_sha256"),
                     "val_mae": c["metrics"].get("val_mae"), "best_epoch": c["metrics"].get("best_epoch"),
                     "train_minutes": c.get("train_minutes"), "stopped": c.get("stopped"),
                     "git_commit": c.get("git_commit")} for r, c in zip(runs, cards, strict=True)],
        "ensemble": f"mean correction of {len(runs)} networks (seeds {', '.join(map(str, seeds))}) trained alike, "
                    f"over one shared init",
        "history": [], "stopped": "; ".join(str(c.get("stopped")) for c in cards),
        "steps_run": sum(int(c.get("steps_run") or 0) for c in cards),
        "train_minutes": round(sum(float(c.get("train_minutes") or 0.0) for c in cards), 2),
        "git_commit": git_commit(),
        "n_parameters": int(sum(p.numel() for p in module.parameters())),
    })
    out = save_checkpoint(model, spec.arch_version, hp, module, card, dest)
    return json.loads((out / "card.json").read_text())
