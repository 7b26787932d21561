"""Real-browser test: `streamlit run dashboard/app.py` on 127.0.0.1, driven by Debian's headless Chromium.

Loads every page, masks stations and reruns, saves screenshots, and fails on any exception box or any
request to a host other than localhost. Prints first-load and after-rerun times (no timing asserts;
speed belongs to `python -m core bench`).

- screenshots go to a tmp folder; with ``AIRATLAS_SCREENSHOTS`` set they are also copied (downsized
  PNGs) to assets/screenshots/;
- ``AIRATLAS_BROWSER_DATASET`` picks the dataset (default: the offline demo, so the test needs no data),
  ``AIRATLAS_BROWSER_MODEL`` the model (default idw);
- without /usr/bin/chromium the test is skipped, unless ``AIRATLAS_REQUIRE_BROWSER=1`` (CI) makes it fail.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from core.contracts.grid import BTH_BBOX
from core.paths import REPO_ROOT
from dashboard.prefetch import DONE
from tests.dashboard.conftest import (
    CHROMIUM_ARGS,
    DATASET,
    DECK_CANVAS,
    MODEL,
    ExternalRequests,
    _exceptions,
    _wait_idle,
    wait_for_log,
    wait_shown,
)

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = REPO_ROOT / "assets" / "screenshots"
PAGES = ["hotspots", "masking_lab", "robustness", "attention", "justice", "about"]

def _save(page, out_dir: Path, name: str) -> Path:
    path = out_dir / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("AIRATLAS_SCREENSHOTS"):
        from PIL import Image

        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        img = Image.open(path).convert("RGB")
        img.thumbnail((1000, 1500))
        # 256-colour palette without dithering: ~80 kB per page, AQI colours kept exact.
        img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            SCREENSHOT_DIR / f"{name}.png", optimize=True)
    return path


def _pixel_of(box: dict, bbox: tuple, height_px: float, lat: float, lon: float) -> tuple[float, float]:
    """Screen pixel of (lat, lon) on a deck framed by dashboard.layers.deck(bbox, height_px=…) (Web Mercator)."""
    from dashboard.layers import fit_zoom

    scale = 512 * 2 ** round(fit_zoom(bbox, 900, height_px), 2) / (2 * math.pi)

    def merc(lo: float, la: float) -> tuple[float, float]:
        return scale * math.radians(lo), scale * math.log(math.tan(math.pi / 4 + math.radians(la) / 2))

    cx, cy = merc((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    x, y = merc(lon, lat)
    return box["x"] + box["width"] / 2 + (x - cx), box["y"] + box["height"] / 2 - (y - cy)


def _click_map(page, where, expect: str, tries: int = 3) -> None:
    """Click the first deck map at ``where(box)`` until ``expect`` shows up (deck.gl may still be
    initialising its picking buffer right after the script run ends)."""
    for attempt in range(tries):
        page.wait_for_timeout(1500)
        box = page.locator('[data-testid="stDeckGlJsonChart"]').first.bounding_box()
        x, y = where(box)
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        try:
            page.wait_for_selector(expect, state="attached", timeout=20_000)
            _wait_idle(page)
            return
        except Exception:  # noqa: BLE001 — retry, fail below
            if attempt == tries - 1:
                raise


def test_every_page_in_a_real_browser(chromium_path: Path, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    external = ExternalRequests()
    timings: dict[str, float] = {}
    shots = tmp_path / "screenshots"
    shots.mkdir()
    query = urlencode({"dataset": DATASET, "model": MODEL})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1700})
        page = ctx.new_page()
        page.on("request", external)
        page.set_default_timeout(120_000)

        # ---- cold start: server process start → the first Hotspots map
        page.goto(f"{server}/?{query}")
        wait_shown(page, DECK_CANVAS, timeout_s=240)
        timings["cold_start_first_map_s"] = round(time.perf_counter() - server.started, 2)
        _save(page, shots, "hotspots_cold_start")
        # Server warm = the process is up and its background warm-up (dashboard.prefetch) has filled the shared
        # caches; not the same page opened before in the same session (every goto below is a new session).
        timings["prefetch_wait_s"] = round(wait_for_log(server, DONE), 2)

        # ---- every page: first load on the warm server
        for name in PAGES:
            if name == "justice" and not (REPO_ROOT / "dashboard" / "views" / "justice.py").exists():
                continue
            t0 = time.perf_counter()
            page.goto(f"{server}/{'' if name == 'hotspots' else name}?{query}")
            content = DECK_CANVAS if name in ("hotspots", "masking_lab", "justice") else '[data-testid="stHeading"]'
            wait_shown(page, content)
            timings[f"first_load_{name}_s"] = round(time.perf_counter() - t0, 2)
            print(f"{name}: first load {timings[f'first_load_{name}_s']} s", flush=True)
            page.wait_for_timeout(1200)  # let deck.gl / plotly paint before the screenshot
            _save(page, shots, name)
            assert not _exceptions(page), f"{name}: {_exceptions(page)}"
            assert page.locator('[data-testid="stHeading"]').count() >= 1, f"{name}: no heading rendered"

        # ---- click a place on the hotspot map → its time series (pydeck selection)
        page.goto(f"{server}/?{query}")
        _wait_idle(page)
        _click_map(page, lambda box: (box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.62),
                   "text=Picked on the map")
        assert not _exceptions(page), _exceptions(page)

        # ---- masking lab: click a Beijing station on the map → it is queued for hiding
        page.goto(f"{server}/masking_lab?{query}")
        _wait_idle(page)
        # Dongsi, central Beijing: dense with stations, any of them will do.
        _click_map(page, lambda box: _pixel_of(box, BTH_BBOX, 470, 39.8745, 116.434), "text=1 station(s) to hide")
        page.get_by_role("tab", name="List / clear").click()
        page.locator('[data-testid="stBaseButton-secondary"]', has_text="Clear all").click()
        _wait_idle(page)

        # ---- masking lab: hide a random half, Rerun, time until the scores and bubbles are back
        page.get_by_role("tab", name="Random share").click()
        page.get_by_role("button", name="Hide a random share").click()
        _wait_idle(page)
        t0 = time.perf_counter()
        page.get_by_role("button", name="Rerun").click()
        # The map (with the chosen model's error bubbles) is drawn before the baselines run.
        wait_shown(page, DECK_CANVAS, text=r"\d+ error bubbles at hidden stations", idle=False)
        timings["rerun_masking_lab_map_s"] = timings["rerun_map_s"] = round(time.perf_counter() - t0, 2)
        wait_shown(page, '[data-testid="stDataFrame"]', DECK_CANVAS)
        timings["rerun_masking_lab_all_models_s"] = round(time.perf_counter() - t0, 2)
        page.wait_for_timeout(1200)
        _save(page, shots, "masking_lab_rerun")
        assert not _exceptions(page), _exceptions(page)
        assert "masked=" in page.url  # the scenario is in the link

        # ---- the same mask on the hotspot map (new session from the copied link), then a rerun by hour
        t0 = time.perf_counter()
        page.goto(page.url.replace("/masking_lab", "/").replace("page=masking_lab", "page=hotspots"))
        wait_shown(page, DECK_CANVAS)
        timings["load_masked_hotspots_s"] = round(time.perf_counter() - t0, 2)
        assert page.get_by_text("hidden ·").count() >= 1
        page.wait_for_timeout(1200)
        _save(page, shots, "hotspots_masked")
        assert not _exceptions(page), _exceptions(page)

        # A widget rerun of the hotspot map (inference cached): toggle the wind arrows.
        t0 = time.perf_counter()
        page.get_by_text("Wind arrows").click()
        _wait_idle(page)
        page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="attached")
        timings["rerun_hotspots_widget_s"] = round(time.perf_counter() - t0, 2)
        assert not _exceptions(page), _exceptions(page)

        # Another hour, then another date on Hotspots (sidebar), in a new session on the default scenario (no
        # station hidden) → the new map: until the run has ended, the caption names it and the canvas is back.
        page.goto(f"{server}/?{query}")
        _wait_idle(page)
        page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="attached")
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has_text="Hour or daily mean").click()
        t0 = time.perf_counter()
        page.get_by_role("option", name="03:00").click()
        wait_shown(page, DECK_CANVAS, text="03:00 · ")
        timings["hour_change_map_s"] = round(time.perf_counter() - t0, 2)
        page.wait_for_timeout(1200)
        _save(page, shots, "hotspots_hour_change")
        assert not _exceptions(page), _exceptions(page)

        # Another date (sidebar calendar: one day back, Enter) → the new map, same hour.
        date_box = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input').first
        before = date_box.input_value()
        page.locator('[data-testid="stSidebar"] [data-testid="stDateInputCalendarButton"]').click()
        page.wait_for_selector('[data-testid="stDateInputCalendar"]', state="visible")
        t0 = time.perf_counter()
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("Enter")
        changed = "([sel, old]) => { const e = document.querySelector(sel); return e && e.value !== old; }"
        page.wait_for_function(changed,
                               arg=['[data-testid="stSidebar"] [data-testid="stDateInput"] input', before])
        new_date = date_box.input_value().replace("/", "-")
        wait_shown(page, DECK_CANVAS, text=f"{new_date} 03:00 · ")
        timings["date_change_map_s"] = round(time.perf_counter() - t0, 2)
        page.wait_for_timeout(1200)
        _save(page, shots, "hotspots_date_change")
        assert not _exceptions(page), _exceptions(page)

        browser.close()

    timings["load_average_1m"] = round(os.getloadavg()[0], 2)  # CPU is shared: read the timings with it
    print("\nbrowser timings:", json.dumps(timings))
    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=1))
    if os.environ.get("AIRATLAS_SCREENSHOTS"):
        shutil.copy(tmp_path / "timings.json", SCREENSHOT_DIR / "timings.json")
    assert not external, f"requests to non-local hosts: {sorted(set(external))[:10]}"
