"""Checkpoints: ``assets/models/<name>/model.pt`` + ``card.json``.

``model.pt`` holds ``{"name", "arch_version", "hparams", "state_dict"}`` (float32 weights only:
small). ``card.json`` is the human-readable model card (hyper-parameters, data sha256, split,
``S_test`` codes, validation metrics, git commit, architecture version) and records the sha256 of
``model.pt``. Loading refuses, with :class:`CheckpointMismatch`, a file whose sha256 differs from its
card, or whose architecture version differs from the code's.

A card may carry an ``inference`` block: settings chosen on validation days *after* training that change
how the trained weights are run, not the weights (spin: ``ok_k``, the observed stations its kriging init
reads; ``python -m core tune --model spin``). It names the ``model.pt`` sha256 it was chosen for and a
format version; :func:`inference_settings` refuses a stale or unknown block. The card is part of the
interval fingerprint (:func:`core.intervals.fingerprint`), so changing the block makes the shipped
intervals stale until ``calibrate`` is rerun.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import torch

from core.errors import CheckpointMismatch, DataNotFound
from core.hashing import sha256_file
from core.paths import MODELS_DIR


def model_dir(name: str, root: str | Path | None = None) -> Path:
    """``<root or assets/models>/<name>``; ``root`` may be a string (a CLI or script path)."""
    return (Path(root) if root is not None else MODELS_DIR) / name


def save_checkpoint(name: str, arch_version: str, hparams: dict, module: torch.nn.Module, card: dict,
                    root: Path | None = None) -> Path:
    """Write ``model.pt`` and ``card.json`` under ``root/name``; returns the folder."""
    out = model_dir(name, root)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()
             for k, v in module.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"name": name, "arch_version": arch_version, "hparams": hparams, "state_dict": state}, buf)
    (out / "model.pt").write_bytes(buf.getvalue())
    card = {"name": name, "arch_version": arch_version, "hparams": hparams, **card,
            "model_sha256": sha256_file(out / "model.pt")}
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return out


def load_checkpoint(name: str, arch_version: str, root: str | Path | None = None) -> tuple[dict, dict]:
    """``(payload, card)`` of a shipped checkpoint; raises CheckpointMismatch / DataNotFound with advice."""
    folder = model_dir(name, root)
    pt, card_path = folder / "model.pt", folder / "card.json"
    if not pt.is_file() or not card_path.is_file():
        raise DataNotFound(f"No trained '{name}' checkpoint at {folder} (need model.pt and card.json). "
                           f"Train one with `python -m core train --model {name}`.")
    card = json.loads(card_path.read_text())
    digest = sha256_file(pt)
    if card.get("model_sha256") and card["model_sha256"] != digest:
        raise CheckpointMismatch(
            f"{pt}: sha256 {digest[:12]}… does not match card.json ({card['model_sha256'][:12]}…); the file was "
            f"changed or truncated. Re-train with `python -m core train --model {name}`.")
    try:
        payload = torch.load(pt, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, AttributeError) as err:
        # weights_only=True refuses anything but tensors and plain containers; never retry unsafely
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointMismatch(
            f"{pt}: not a weights-only checkpoint, torch.load(weights_only=True) refused it ({first[:200]}). "
            f"The file was written by another tool or holds Python objects, which AirAtlas does not execute. "
            f"Re-train with `python -m core train --model {name}` (or restore model.pt from git).") from None
    if not isinstance(payload, dict):
        raise CheckpointMismatch(f"{pt}: holds a {type(payload).__name__}, not a checkpoint dict. "
                                 f"Re-train with `python -m core train --model {name}`.")
    found = payload.get("arch_version")
    if found != arch_version:
        raise CheckpointMismatch(
            f"{pt}: checkpoint architecture version '{found}' does not match the code's '{arch_version}' "
            f"for model '{name}'. Re-train with `python -m core train --model {name}` "
            f"(or check out the commit in card.json: {card.get('git_commit', 'unknown')}).")
    if payload.get("name") != name:
        raise CheckpointMismatch(f"{pt}: holds model '{payload.get('name')}', not '{name}'.")
    return payload, card


INFERENCE_FORMAT = 1  # version of the card's ``inference`` block


def inference_settings(name: str, card: dict, allowed: tuple[str, ...]) -> dict:
    """The hyper-parameter overrides of the card's ``inference`` block ({} without one).

    Refused with :class:`CheckpointMismatch` (and what to rerun): another format version, a block chosen for
    another ``model.pt`` (its ``model_sha256``), or a key the model does not allow to change after training.
    """
    block = card.get("inference")
    if not block:
        return {}
    redo = f"Rerun `python -m core tune --model {name}` (or delete the 'inference' block of card.json)."
    if not isinstance(block, dict) or block.get("format") != INFERENCE_FORMAT:
        found = block.get("format") if isinstance(block, dict) else type(block).__name__
        raise CheckpointMismatch(f"{name}/card.json: 'inference' block has format {found!r}; this code reads "
                                 f"format {INFERENCE_FORMAT}. {redo}")
    if block.get("model_sha256") != card.get("model_sha256"):
        raise CheckpointMismatch(f"{name}/card.json: the 'inference' settings were chosen for another checkpoint "
                                 f"(model.pt sha256 {str(block.get('model_sha256'))[:12]}…, this one "
                                 f"{str(card.get('model_sha256'))[:12]}…). {redo}")
    hp = block.get("hparams") or {}
    bad = sorted(set(hp) - set(allowed))
    if bad:
        raise CheckpointMismatch(f"{name}/card.json: 'inference' sets {', '.join(bad)}, which cannot change after "
                                 f"training (allowed: {', '.join(allowed) or 'none'}). {redo}")
    return dict(hp)
