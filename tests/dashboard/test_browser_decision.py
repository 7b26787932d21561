"""Real browser on the decision pages: siting, compare, days above limits, the hour animation and every download.

Same harness as test_browser.py (tests/dashboard/conftest.py: server on 127.0.0.1, Debian chromium, no external
request). Downloads are opened with the tools they are for (Pillow, rasterio, xarray, pypdf, pandas for the CSVs);
first-load times are merged into timings.json next to the other pages' keys. Compare: the two side-by-side maps
of one scenario are pixel-identical, and stay so when the shared view moves (and a drag cannot part them); the
swipe's split moves the image. Deep links: "/" opens Hotspots at /hotspots, and /hotspots is not "Page not found".
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest

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
from tests.dashboard.test_browser import SCREENSHOT_DIR, _save

pytestmark = pytest.mark.browser
PAGES = ["siting", "compare", "exceedance"]


def _download(page, name: str, out: Path) -> Path:
    _wait_idle(page)  # a download button click reruns the app: the next click must wait for that rerun to end
    with page.expect_download() as info:
        page.get_by_role("button", name=name).click()
    path = out / info.value.suggested_filename
    info.value.save_as(path)
    return path


def _stable_shot(locator, timeout_s: float = 60.0):
    """The element's screenshot once two in a row are the same (deck.gl has drawn every layer and image), as an
    RGB array. Polls the rendered pixels: a condition, not a fixed wait."""
    import io

    import numpy as np
    from PIL import Image

    t0, last = time.perf_counter(), None
    while True:
        img = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(int)
        if last is not None and img.shape == last.shape and (img == last).all() and img.std() > 5:
            return img
        if time.perf_counter() - t0 > timeout_s:
            raise AssertionError(f"the map did not settle within {timeout_s:.0f} s")
        last = img
        locator.page.wait_for_timeout(250)  # between two polls of the condition


def _slider_value(page, label: str) -> float:
    """The value a Streamlit slider shows on its thumb."""
    box = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    return float(box.locator('[data-testid="stSliderThumbValue"]').inner_text().replace("°E", ""))


def _differ(a, b) -> float:
    """Mean absolute pixel difference (0–255) over the two images' common area."""
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(abs(a[:h, :w] - b[:h, :w]).mean())


def _compare_maps_stay_in_sync(page, server: str, query: str, shots: Path) -> None:
    """Two dates, both the dataset's first day (Date B defaults to the day before A, clipped to the data): maps A
    and B show one scenario, so in sync they are the same picture."""
    from dashboard import loaders

    first = loaders.dataset_info(DATASET)["start"]
    page.goto(f"{server}/compare?{query}&date={first}")
    _wait_idle(page)
    page.get_by_text("two dates").click()
    _wait_idle(page)
    page.wait_for_selector(f"text=B: {MODEL}, {first}", state="attached")
    maps = page.locator('[data-testid="stDeckGlJsonChart"]')
    assert maps.count() == 3  # A, B, difference
    a0, b0 = _stable_shot(maps.nth(0)), _stable_shot(maps.nth(1))
    assert _differ(a0, b0) < 1.0, "maps A and B of one scenario differ: not the same view"

    # One control moves both: centre on the first city, zoom in one level.
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Centre both maps on").click()
    page.get_by_role("option").nth(1).click()
    _wait_idle(page)
    zoom = page.locator('[data-testid="stSlider"]').filter(has_text="Zoom in (levels)").get_by_role("slider")
    zoom.focus()
    for _ in range(2):  # two steps of 0.5
        zoom.press("ArrowRight")
        _wait_idle(page)
    assert _slider_value(page, "Zoom in (levels)") == 1.0
    maps = page.locator('[data-testid="stDeckGlJsonChart"]')
    a1, b1 = _stable_shot(maps.nth(0)), _stable_shot(maps.nth(1))
    assert _differ(a1, a0) > 5.0, "the shared view control did not move map A"
    assert _differ(a1, b1) < 1.0, "after moving the shared view, maps A and B show different places"
    _save(page, shots, "compare_sync")

    # Dragging one map cannot part them (the maps have no controller of their own).
    box = maps.nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 120, box["y"] + box["height"] / 2 + 60, steps=8)
    page.mouse.up()
    page.mouse.move(5, 5)  # off the maps: no tooltip in the picture
    a2 = _stable_shot(maps.nth(0))
    if _differ(a2, b1) >= 1.0:
        _save(page, shots, "compare_after_drag")
    assert _differ(a2, b1) < 1.0, f"a drag moved map A away from map B (screenshots in {shots})"

    # Swipe: one deck; moving the split moves the image (A west, B east).
    page.locator('[data-testid="stRadio"]').filter(has_text="side by side").get_by_text("swipe", exact=True).click()
    _wait_idle(page)
    page.wait_for_selector("text=/West of .*°E/", state="attached")
    swipe = page.locator('[data-testid="stDeckGlJsonChart"]').first
    s0 = _stable_shot(swipe)
    split = page.locator('[data-testid="stSlider"]').filter(has_text="Split at").get_by_role("slider")
    split.focus()
    before = _slider_value(page, "Split at")
    for _ in range(10):  # 10 × 0.05° west
        split.press("ArrowLeft")
        _wait_idle(page)
    assert _slider_value(page, "Split at") < before
    s1 = _stable_shot(page.locator('[data-testid="stDeckGlJsonChart"]').first)
    h, w = min(s0.shape[0], s1.shape[0]), min(s0.shape[1], s1.shape[1])
    moved = (abs(s0[:h, :w] - s1[:h, :w]).sum(axis=(0, 2)) > 0).sum()
    assert moved >= 2, "the swipe line did not move with the split"  # A and B are one scenario: only the line moves
    assert not _exceptions(page), _exceptions(page)
    _save(page, shots, "compare_swipe")


def test_decision_pages_in_a_real_browser(chromium_path: Path, server: str, tmp_path: Path) -> None:  # noqa: F811
    import numpy as np
    import pandas as pd
    import rasterio
    import xarray as xr
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    external = ExternalRequests()
    timings: dict[str, float] = {}
    shots = tmp_path / "screenshots"
    shots.mkdir()
    query = urlencode({"dataset": DATASET, "model": MODEL})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1700}, accept_downloads=True)
        page = ctx.new_page()
        page.on("request", external)
        page.set_default_timeout(180_000)
        page.goto(f"{server}/?{query}")  # the first session starts the server's warm-up (dashboard.prefetch)
        _wait_idle(page, 240)
        page.wait_for_selector('[data-testid="stHeading"]:has-text("PM2.5 hotspots")', state="attached")
        page.wait_for_url("**/hotspots?**")  # "/" opens Hotspots at its own path
        wait_for_log(server, DONE)  # server warm: shared caches filled, before timing first loads

        # ---- a deep link to the default page opens it (it said "Page not found")
        page.goto(f"{server}/hotspots?{query}")
        _wait_idle(page)
        page.wait_for_selector('[data-testid="stHeading"]:has-text("PM2.5 hotspots")', state="attached")
        assert "Page not found" not in page.content() and urlparse(page.url).path == "/hotspots"

        for name in PAGES:
            t0 = time.perf_counter()
            page.goto(f"{server}/{name}?{query}")
            wait_shown(page, DECK_CANVAS)
            timings[f"first_load_{name}_s"] = round(time.perf_counter() - t0, 2)
            page.wait_for_timeout(1200)
            _save(page, shots, name)
            assert not _exceptions(page), f"{name}: {_exceptions(page)}"

        # ---- siting: the table downloads as CSV with one row per proposed site
        page.goto(f"{server}/siting?{query}")
        _wait_idle(page)
        sites = pd.read_csv(_download(page, "Download the sites (CSV)", tmp_path))
        assert len(sites) == 10 and {"lon", "lat", "score", "district"} <= set(sites)

        # ---- hotspots: play the day; the caption advances without a full page run per frame
        page.goto(f"{server}/?{query}")
        _wait_idle(page)
        page.get_by_text("Play the day hour by hour").click()
        page.get_by_text("Play", exact=True).click()
        page.wait_for_selector("text=/\\(hour [3-9] of 24\\)/", state="attached", timeout=60_000)
        _save(page, shots, "hotspots_animation")
        page.get_by_text("Play", exact=True).click()  # pause
        _wait_idle(page)
        assert not _exceptions(page), _exceptions(page)

        # ---- hotspots: every download opens in its own tool (WHO 15: the demo day has hotspots to tabulate)
        page.goto(f"{server}/hotspots?{query}&threshold=15")
        _wait_idle(page)
        spots = pd.read_csv(_download(page, "Download the hotspot table (CSV)", tmp_path))
        assert len(spots) >= 1 and {"rank", "peak", "confidence", "peak_lat", "peak_lon"} <= set(spots)
        page.get_by_text("Download this map: PNG, GeoTIFF, NetCDF, PDF brief").click()
        page.get_by_role("button", name="Prepare the files").click()
        _wait_idle(page)
        png = Image.open(_download(page, "Map (PNG)", tmp_path))
        assert png.format == "PNG" and png.size[0] > 400
        with rasterio.open(_download(page, "Surface (GeoTIFF)", tmp_path)) as src:
            assert src.crs.to_epsg() == 4326 and np.isfinite(src.read(1)).any()
        with xr.open_dataset(_download(page, "Day, hourly (NetCDF)", tmp_path)) as ds:
            assert ds.sizes["time"] == 24 and ds["pm25"].attrs["units"] == "ug m-3"
        brief = PdfReader(_download(page, "One-page brief (PDF)", tmp_path))
        text = brief.pages[0].extract_text()
        assert len(brief.pages) == 1 and "AirAtlas brief" in text and "Scenario: http://127.0.0.1" in text, text
        _save(page, shots, "hotspots_downloads")

        # ---- compare: two dates, the maps in sync, the swipe
        _compare_maps_stay_in_sync(page, server, query, shots)

        # ---- environmental justice: the unit table (CSV), the units (GeoJSON), the HTML brief next to the PDF one
        page.goto(f"{server}/justice?{query}")
        _wait_idle(page)
        page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="attached")
        units = pd.read_csv(_download(page, "Per-unit table (CSV)", tmp_path))
        assert len(units) > 100 and {"pm25", "population"} <= set(units)
        geo = json.loads(_download(page, "Units with classes (GeoJSON)", tmp_path).read_text(encoding="utf-8"))
        assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(units)
        html = _download(page, "One-page brief (HTML)", tmp_path).read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html") and "open this scenario in AirAtlas" in html
        assert "page=justice" in html
        assert not _exceptions(page), _exceptions(page)
        browser.close()

    print("\ndecision browser timings:", json.dumps(timings))
    if os.environ.get("AIRATLAS_SCREENSHOTS"):
        path = SCREENSHOT_DIR / "timings.json"
        merged = json.loads(path.read_text()) if path.exists() else {}
        timings["load_average_1m_decision"] = round(os.getloadavg()[0], 2)
        path.write_text(json.dumps(merged | timings, indent=1))
    assert not external, f"requests to non-local hosts: {sorted(set(external))[:10]}"
