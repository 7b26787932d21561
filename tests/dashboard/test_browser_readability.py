"""Real browser: what was once hard to read stays fixed — About written for a reader, chart captions
and legends inside their figures, an on-map bubble size key, an uncut justice legend and metric titles.

Same harness as test_browser.py. Screenshots: about.png, masking_lab.png, justice.png, hotspots.png
(copied to assets/screenshots/ with ``AIRATLAS_SCREENSHOTS`` set).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.dashboard.conftest import CHROMIUM_ARGS, DATASET, MODEL, ExternalRequests, _exceptions, _wait_idle
from tests.dashboard.test_browser import _save

pytestmark = pytest.mark.browser

# Boxes of plotly's source annotations, legends and x-axis titles, per figure (SVG, so measurable).
PLOTLY_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => {
  const r = el => { if (!el) return null; const b = el.getBoundingClientRect();
                    return {l: b.left, r: b.right, t: b.top, b: b.bottom}; };
  const src = [...p.querySelectorAll('.annotation-text')].find(a => a.textContent.startsWith('Source'));
  return {fig: r(p.querySelector('.main-svg')), source: r(src), legend: r(p.querySelector('.legend')),
          xtitle: r(p.querySelector('.xtitle'))};
})"""
CUT_LABELS = """sel => [...document.querySelectorAll(sel)].filter(e => e.scrollWidth > e.clientWidth + 1)
                                                   .map(e => e.textContent)"""


def _overlap(a: dict | None, b: dict | None) -> bool:
    return bool(a and b) and a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def _check_figures(page, where: str) -> int:
    boxes = page.evaluate(PLOTLY_BOXES)
    for i, f in enumerate(boxes):
        if f["source"]:
            assert f["source"]["r"] <= f["fig"]["r"] + 1, f"{where} figure {i}: source caption cut at the right edge"
            assert f["source"]["b"] <= f["fig"]["b"] + 1, f"{where} figure {i}: source caption cut at the bottom"
        assert not _overlap(f["legend"], f["xtitle"]), f"{where} figure {i}: legend over the x-axis title"
    return len(boxes)


def test_readability_in_a_real_browser(chromium_path: Path, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    external = ExternalRequests()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    query = urlencode({"dataset": DATASET, "model": MODEL})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1500}).new_page()
        page.on("request", external)
        page.set_default_timeout(240_000)

        # ---- About: tabs of readable text, never a JSON code block or a dumped SOURCE.md
        page.goto(f"{server}/about?{query}")
        _wait_idle(page, 240)
        assert page.locator('[data-testid="stCode"]').count() == 0
        assert page.get_by_text("Modest gain over the simplest method").count() == 1
        page.get_by_role("tab", name="Model cards").click()
        # Wait for the tab's content, not a fixed 500 ms (that failed once at load 5.6).
        page.wait_for_selector('[data-testid="stTable"]', state="attached", timeout=60_000)
        assert page.locator('[data-testid="stTable"]').count() >= 1
        page.get_by_role("tab", name="Data sources").click()
        page.wait_for_timeout(500)
        page.locator("[data-testid=\"stExpander\"] summary", has_text="Terrain elevation").click()
        page.wait_for_timeout(500)
        assert page.get_by_text("doi:10.21105/joss.00884").count() == 1
        page.get_by_role("tab", name="Model cards").click()
        page.wait_for_timeout(800)
        _save(page, shots, "about")
        assert not _exceptions(page), _exceptions(page)

        # ---- Masking lab: hide half, rerun; the on-map size key, the charts' captions and legends
        page.goto(f"{server}/masking_lab?{query}")
        _wait_idle(page, 240)
        page.get_by_role("tab", name="Random share").click()
        page.get_by_role("button", name="Hide a random share").click()
        _wait_idle(page)
        page.get_by_role("button", name="Rerun").click()
        page.wait_for_selector("text=/\\d+ error bubbles at hidden stations/", state="attached")
        _wait_idle(page, 300)
        page.wait_for_selector('.js-plotly-plot .legend', state="attached")
        assert page.get_by_text("size key").count() >= 1
        page.wait_for_timeout(1500)
        assert _check_figures(page, "masking lab") >= 2
        _save(page, shots, "masking_lab")
        assert not _exceptions(page), _exceptions(page)

        # ---- Hotspots: the time series at a place, labelled guide lines
        page.goto(f"{server}/?{query}")
        _wait_idle(page, 240)
        page.wait_for_selector('.js-plotly-plot .legend', state="attached")
        page.wait_for_timeout(1500)
        _check_figures(page, "hotspots")
        _save(page, shots, "hotspots")
        assert not _exceptions(page), _exceptions(page)

        # ---- Justice: metric titles and the bivariate legend uncut
        if DATASET != "demo" or (Path(__file__).parents[2] / "dashboard" / "views" / "justice.py").exists():
            page.goto(f"{server}/justice?{query}")
            _wait_idle(page, 300)
            page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="attached")
            page.wait_for_timeout(1500)
            if page.locator('[data-testid="stMetric"]').count():
                assert page.evaluate(CUT_LABELS, '[data-testid="stMetricLabel"] p') == []
                legend = page.locator(".bivariate-legend").bounding_box()
                assert legend is not None and legend["height"] >= 120
            _check_figures(page, "justice")
            _save(page, shots, "justice")
            assert not _exceptions(page), _exceptions(page)
        browser.close()
    assert not external, f"requests to non-local hosts: {sorted(set(external))[:10]}"
