"""Real browser on the decision pages: siting, compare, days above limits, the hour animation and every download.

Same harness as test_browser.py (tests/dashboard/conftest.py: server on 127.0.0.1, Debian chromium, no external
request). Downloads are opened with the tools they are for (Pillow, rasterio, xarray, a PDF header + page
count); first-load times are merged into timings.json next to the other pages' keys.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from dashboard.prefetch import DONE
from tests.dashboard.conftest import (
    CHROMIUM_ARGS,
    DATASET,
    MODEL,
    ExternalRequests,
    _exceptions,
    _wait_idle,
    wait_for_log,
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


def test_decision_pages_in_a_real_browser(chromium_path: Path, server: str, tmp_path: Path) -> None:  # noqa: F811
    import numpy as np
    import pandas as pd
    import rasterio
    import xarray as xr
    from PIL import Image
    from playwright.sync_api import sync_playwright

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
        wait_for_log(server, DONE)  # server warm: shared caches filled, before timing first loads

        for name in PAGES:
            t0 = time.perf_counter()
            page.goto(f"{server}/{name}?{query}")
            _wait_idle(page, 180)
            page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="attached")
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

        # ---- hotspots: every download opens in its own tool
        page.get_by_text("Download this map: PNG, GeoTIFF, NetCDF, PDF brief").click()
        page.get_by_role("button", name="Prepare the files").click()
        _wait_idle(page)
        png = Image.open(_download(page, "Map (PNG)", tmp_path))
        assert png.format == "PNG" and png.size[0] > 400
        with rasterio.open(_download(page, "Surface (GeoTIFF)", tmp_path)) as src:
            assert src.crs.to_epsg() == 4326 and np.isfinite(src.read(1)).any()
        with xr.open_dataset(_download(page, "Day, hourly (NetCDF)", tmp_path)) as ds:
            assert ds.sizes["time"] == 24 and ds["pm25"].attrs["units"] == "ug m-3"
        pdf = _download(page, "One-page brief (PDF)", tmp_path).read_bytes()
        assert pdf.startswith(b"%PDF") and b"/Type /Page" in pdf
        _save(page, shots, "hotspots_downloads")

        # ---- compare: two dates
        page.goto(f"{server}/compare?{query}")
        _wait_idle(page)
        page.get_by_text("two dates").click()
        _wait_idle(page)
        page.wait_for_selector("text=Difference B − A", state="attached")
        page.wait_for_timeout(1200)
        _save(page, shots, "compare_dates")
        assert not _exceptions(page), _exceptions(page)
        browser.close()

    print("\ndecision browser timings:", json.dumps(timings))
    if os.environ.get("AIRATLAS_SCREENSHOTS"):
        path = SCREENSHOT_DIR / "timings.json"
        merged = json.loads(path.read_text()) if path.exists() else {}
        timings["load_average_1m_decision"] = round(os.getloadavg()[0], 2)
        path.write_text(json.dumps(merged | timings, indent=1))
    assert not external, f"requests to non-local hosts: {sorted(set(external))[:10]}"
