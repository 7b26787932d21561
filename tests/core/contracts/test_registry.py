"""core.contracts.registry: names without imports, one model module imported per lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.contracts.registry import MODEL_MODULES, available, get_model
from core.errors import InvalidRequest
from core.paths import REPO_ROOT


def test_available_lists_every_shipped_model_module():
    assert set(available()) >= {m.rsplit(".", 1)[1] for m in MODEL_MODULES}


def test_unknown_name_lists_what_exists():
    with pytest.raises(InvalidRequest, match="Available: .*idw"):
        get_model("no_such_model")


def test_a_baseline_loads_without_importing_torch():
    """The dashboard's cold start with a baseline must not pay for torch (imported by the learned models)."""
    code = ("import sys; from core.contracts.registry import available, get_model; available(); m = get_model('idw');"
            " print(type(m).__name__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "False", out.stdout
