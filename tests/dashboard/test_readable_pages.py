"""Pages through AppTest, read as a user would: About (curated sources, plain model cards, limitations — no raw
JSON or SOURCE.md dumps) and number formatting in tables."""

from __future__ import annotations

import json

import pytest

from dashboard import about_layers as al
from dashboard import loaders
from tests.dashboard.conftest import assert_clean, make_app

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def test_about_page_is_written_for_a_reader():
    at = make_app("about").run()
    assert_clean(at)
    assert not at.code, "model cards must not be raw JSON code blocks"
    assert [t.label for t in at.tabs] == ["Limitations", "Model cards", "Data sources"]
    md = "\n".join(m.value for m in at.markdown)
    # every citation once (the old page printed citation lines and then the whole SOURCE.md again)
    for src in [*al.SOURCES, al.terrain_source()]:
        assert md.count(src.citation.split(". ")[0]) >= 1, src.name
    assert md.count("doi:10.1098/rspa.2017.0457") == 1 and md.count("doi:10.21105/joss.00884") == 1
    assert "## Origin" not in md and "sha256" not in md.lower()
    # a card (facts table) per registered model, the default model open
    labels = [e.label for e in at.expander]
    for name in loaders.model_names():
        assert any(lab.startswith(f"**{name}**") for lab in labels), name
    assert len(at.table) >= len(loaders.model_names())
    assert "Modest gain over the simplest method" in md and "Wind is inferred" in md


def test_hotspot_table_shows_areas_with_thousands_separators():
    at = make_app("hotspots").run()
    assert_clean(at)
    tables = [df for df in at.dataframe if "area (km²)" in df.value.columns]
    assert tables, "the ranked hotspot table is shown"
    cfg = json.loads(tables[0].proto.columns)
    assert cfg["area (km²)"]["type_config"]["format"] == "localized"  # 172,812 — not 172812 or 172811.7
    assert tables[0].value["area (km²)"].dtype.kind in "iu"  # km² without decimals
