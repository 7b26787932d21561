"""The import layers of .importlinter cover every package, so a new module cannot sit outside them.

``lint-imports`` itself runs in scripts/test.sh (the README's test command) and fails CI on an upward import.
"""

from __future__ import annotations

import configparser

import pytest

from core.paths import REPO_ROOT


@pytest.fixture
def layers() -> list[set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / ".importlinter")
    text = cfg["importlinter:contract:layers"]["layers"]
    return [{m.strip() for m in line.replace("|", ":").split(":") if m.strip()}
            for line in text.strip().splitlines()]


def _top_level(package: str) -> set[str]:
    root = REPO_ROOT / package
    mods = {f"{package}.{p.stem}" for p in root.glob("*.py") if p.stem != "__init__"}
    mods |= {f"{package}.{p.parent.name}" for p in root.glob("*/__init__.py")}
    return mods


def test_every_core_module_sits_in_a_layer(layers):
    listed = set().union(*layers)
    missing = sorted(m for m in _top_level("core") if m not in listed)
    assert not missing, f"add these to a layer in .importlinter (see docs/architecture.md): {missing}"


def test_layers_run_from_the_app_down_to_the_contracts(layers):
    assert "dashboard" in layers[0] and "core.cli" in layers[0]
    assert "core.contracts" in layers[-1]
    assert layers.index(next(la for la in layers if "core.engine" in la)) == 2
