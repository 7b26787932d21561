"""core.contracts.registry: names without imports, one model module imported per lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.contracts import registry
from core.contracts.model_spec import ModelSpec, history_hours
from core.contracts.registry import MODEL_MODULES, available
from core.contracts.settings import MAX_HISTORY_HOURS
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.paths import REPO_ROOT


def test_available_lists_every_shipped_model_module():
    assert set(available()) >= {m.rsplit(".", 1)[1] for m in MODEL_MODULES}


def test_unknown_name_lists_what_exists():
    with pytest.raises(InvalidRequest, match="Available: .*idw"):
        get_model("no_such_model")


def test_a_baseline_loads_without_importing_torch():
    """The dashboard's cold start with a baseline must not pay for torch (imported by the learned models)."""
    code = ("import sys; from core.contracts.registry import available; from core.engine.models import get_model;"
            " available(); m = get_model('idw'); print(type(m).__name__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "False", out.stdout


@pytest.mark.parametrize("name", registry.classical())
def test_classical_models_are_always_ready_and_have_no_spec(name, tmp_path):
    assert registry.is_ready(name, root=tmp_path) and not registry.is_learned(name)
    with pytest.raises(InvalidRequest, match="not a trainable model"):
        registry.get_spec(name)


@pytest.mark.parametrize("name", ["spin", "aqnet", "ignnk"])
def test_a_learned_model_is_ready_only_with_its_checkpoint(name, tmp_path):
    assert registry.is_learned(name) and not registry.is_ready(name, root=tmp_path)
    (tmp_path / name).mkdir()
    (tmp_path / name / registry.CHECKPOINT_FILE).write_bytes(b"")
    assert registry.is_ready(name, root=tmp_path)
    assert not registry.is_ready("no_such_model", root=tmp_path)


@pytest.mark.parametrize("name", ["spin", "aqnet", "ignnk"])
def test_every_learned_spec_reads_no_more_history_than_callers_hand_over(name):
    """The dashboard and the reanalysis hand MAX_HISTORY_HOURS to a model that does not say what it reads."""
    spec = registry.get_spec(name)
    assert isinstance(spec, ModelSpec) and spec.name == name
    assert 0 <= history_hours(spec.hparams()) <= MAX_HISTORY_HOURS
