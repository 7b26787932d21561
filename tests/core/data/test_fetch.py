"""fetch_archive against a real HTTP server on 127.0.0.1: sha256, resume, retries, 404 days, re-runs."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contracts.stationset import load_warnings, summary
from core.data.fetch import MIRROR, PUBLIC, SHIPPED_MANIFEST, fetch_archive, layout_for, parse_manifest
from core.data.load import load_stationset
from core.errors import FetchError, InvalidRequest

CODES = ["1001A", "1002A", "1003A"]
STATIONS = (
    "code,name,city,lon,lat,is_BTH\n"
    "1001A,万寿西宫,北京,116.366,39.8673,True\n"
    "1002A,定陵,北京,116.17,40.2865,True\n"
    "1003A,东四,北京,116.434,39.9522,True\n"
)

# ------------------------------------------------------------------ fixture archive + server


def day_file(day: str, seed: int) -> bytes:
    """A CNEMC daily file (gzip) for ``day`` (YYYYMMDD): 24 hours × 7 species × 3 stations."""
    rng = np.random.default_rng(seed)
    lines = ["date,hour,type," + ",".join(CODES)]
    for h in range(24):
        for typ in ("AQI", "PM2.5", "PM10", "SO2", "NO2", "O3", "CO"):
            vals = rng.uniform(5, 150, len(CODES))
            lines.append(f"{day},{h},{typ}," + ",".join(f"{v:.0f}" for v in vals))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def build_archive(root: Path, days: list[str], sums: bool = True, sums_for: dict[str, bytes] | None = None) -> Path:
    """Mirror-layout archive in ``root``; ``sums_for`` overrides the bytes a checksum is computed from."""
    (root / "hourly").mkdir(parents=True, exist_ok=True)
    files = {"stations_region.csv": STATIONS.encode()}
    for i, d in enumerate(days):
        files[f"hourly/china_sites_{d}.csv.gz"] = day_file(d, i)
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    if sums:
        ref = {**files, **(sums_for or {})}
        (root / "SHA256SUMS.txt").write_text(
            "".join(f"{hashlib.sha256(b).hexdigest()}  ./{rel}\n" for rel, b in ref.items()))
    return root


@dataclass
class ServerState:
    root: Path
    faults: dict[str, list[str]] = field(default_factory=dict)  # url path → actions, one used per request
    hidden: set[str] = field(default_factory=set)                # url paths answered with 404
    ranges: bool = True                                           # honour Range requests
    log: list[tuple[str, str | None, int]] = field(default_factory=list)  # (path, Range header, status)


class Handler(BaseHTTPRequestHandler):
    """Static files with Range support and scripted faults: 'truncate' (half the body, then close),
    'corrupt' (flipped bytes), '500'."""

    server: ThreadingHTTPServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        st: ServerState = self.server.state  # type: ignore[attr-defined]
        path = self.path.split("?")[0].lstrip("/")
        rng = self.headers.get("Range")
        file = st.root / path
        if path in st.hidden or not file.is_file():
            st.log.append((path, rng, 404))
            self.send_error(404)
            return
        body = file.read_bytes()
        action = st.faults[path].pop(0) if st.faults.get(path) else "ok"
        if action == "500":
            st.log.append((path, rng, 500))
            self.send_error(500)
            return
        if action == "corrupt":
            body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
        start, status = 0, 200
        if rng and st.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                st.log.append((path, rng, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        st.log.append((path, rng, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Connection", "close")
        self.end_headers()
        payload = body[start:]
        if action == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, ServerState]]:
    """A threaded HTTP server on 127.0.0.1 serving ``tmp_path/'archive'``; yields (base URL, state)."""
    state = ServerState(root=tmp_path / "archive")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _fetch(base: str, out: Path, start: str = "2019-01-01", end: str = "2019-01-03", **kw) -> dict:
    return fetch_archive(start=start, end=end, out=out, base_url=base, retries=kw.pop("retries", 3),
                         backoff=0.0, progress=False, **kw)


def _gets(state: ServerState, path: str) -> list[tuple[str | None, int]]:
    return [(r, s) for p, r, s in state.log if p == path]


DAY1, DAY2, DAY3 = (f"hourly/china_sites_2019010{i}.csv.gz" for i in (1, 2, 3))

# ------------------------------------------------------------------ tests


def test_interrupted_corrupted_missing_then_rerun_then_load(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101", "20190103"])  # 2019-01-02 is absent → 404
    st.faults = {DAY1: ["truncate"], DAY3: ["corrupt"]}
    out = tmp_path / "out"
    rep = _fetch(base, out)
    assert sorted(rep["downloaded"]) == sorted(["stations_region.csv", DAY1, DAY3])
    assert rep["missing"] == [DAY2] and rep["failed"] == [] and rep["unverified"] == []
    assert rep["manifest"].endswith("/SHA256SUMS.txt") and rep["layout"] == "mirror"
    for rel in (DAY1, DAY3, "stations_region.csv"):
        assert (out / rel).read_bytes() == (st.root / rel).read_bytes()
    assert not list(out.rglob("*.part"))
    # the interrupted transfer resumed with a Range request answered 206
    day1 = _gets(st, DAY1)
    assert day1[0] == (None, 200) and day1[1][1] == 206
    assert day1[1][0] == f"bytes={(st.root / DAY1).stat().st_size // 2}-"  # the half that arrived is kept
    # the corrupted file was deleted and fetched again from scratch
    assert _gets(st, DAY3) == [(None, 200), (None, 200)]
    total = sum((st.root / r).stat().st_size for r in ("stations_region.csv", DAY1, DAY3))
    assert rep["bytes"] >= total

    # re-run: everything verified is skipped, nothing is downloaded again
    n_before = len(_gets(st, DAY1)) + len(_gets(st, DAY3))
    rep2 = _fetch(base, out)
    assert rep2["downloaded"] == [] and sorted(rep2["skipped"]) == sorted(["stations_region.csv", DAY1, DAY3])
    assert rep2["bytes"] == 0 and len(_gets(st, DAY1)) + len(_gets(st, DAY3)) == n_before

    # the fetched folder is a loadable CNEMC archive
    ds = load_stationset(path=out)
    s = summary(ds)
    assert s["stations_total"] == 3 and s["bth_active"] == 3
    assert (s["time_start"], s["time_end"]) == ("2019-01-01T00", "2019-01-03T23")
    assert s["hours_present"] == 48


def test_persistent_corruption_is_a_fetch_error_naming_the_file(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101", "20190102"])
    st.faults = {DAY2: ["corrupt"] * 5}
    out = tmp_path / "out"
    with pytest.raises(FetchError, match=r"china_sites_20190102\.csv\.gz: sha256 mismatch") as exc:
        _fetch(base, out, end="2019-01-02", retries=3)
    assert len(_gets(st, DAY2)) == 3
    assert not (out / DAY2).exists() and not (out / (DAY2 + ".part")).exists()
    assert (out / DAY1).is_file()  # the good day is kept
    assert exc.value.report["failed"] == [DAY2]  # type: ignore[attr-defined]


def test_corrupted_local_file_and_stale_part_are_repaired(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101", "20190102"])
    out = tmp_path / "out"
    (out / "hourly").mkdir(parents=True)
    (out / DAY1).write_bytes(b"garbage from an older run")
    good = (st.root / DAY2).read_bytes()
    (out / (DAY2 + ".part")).write_bytes(good[:100])  # a previous run died after 100 bytes
    rep = _fetch(base, out, end="2019-01-02")
    assert DAY1 in rep["downloaded"] and DAY2 in rep["downloaded"]
    assert (out / DAY1).read_bytes() == (st.root / DAY1).read_bytes()
    assert (out / DAY2).read_bytes() == good
    assert _gets(st, DAY2) == [("bytes=100-", 206)]


def test_server_without_range_support_restarts_cleanly(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101"])
    st.ranges = False
    st.faults = {DAY1: ["truncate"]}
    rep = _fetch(base, tmp_path / "out", end="2019-01-01")
    assert rep["downloaded"] == ["stations_region.csv", DAY1]
    assert (tmp_path / "out" / DAY1).read_bytes() == (st.root / DAY1).read_bytes()
    assert [s for _, s in _gets(st, DAY1)] == [200, 200]


def test_transient_server_errors_are_retried(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101"])
    st.faults = {DAY1: ["500", "500"]}
    rep = _fetch(base, tmp_path / "out", end="2019-01-01", retries=3)
    assert DAY1 in rep["downloaded"] and [s for _, s in _gets(st, DAY1)] == [500, 500, 200]


def test_station_list_missing_is_a_failure(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101"])
    st.hidden = {"stations_region.csv"}
    with pytest.raises(FetchError, match="stations_region.csv: not on the server"):
        _fetch(base, tmp_path / "out", end="2019-01-01")


def test_no_day_found_is_a_clear_error(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101"])
    with pytest.raises(FetchError, match="none of the 2 daily files exists"):
        _fetch(base, tmp_path / "out", start="2020-01-01", end="2020-01-02")


def test_shipped_manifest_when_archive_has_no_sums(server, tmp_path: Path) -> None:
    """Without SHA256SUMS.txt the shipped 2019 checksums apply: fixture 2019 files fail them,
    a day they do not cover is kept as unverified."""
    base, st = server
    build_archive(st.root, ["20190101", "20200101"], sums=False)
    with pytest.raises(FetchError, match="china_sites_20190101.csv.gz: sha256 mismatch"):
        _fetch(base, tmp_path / "a", end="2019-01-01", retries=2)
    rep = _fetch(base, tmp_path / "b", start="2020-01-01", end="2020-01-01")
    assert rep["manifest"] == "core/conf/cnemc_2019_sha256.txt"
    assert rep["downloaded"] == ["stations_region.csv", "hourly/china_sites_20200101.csv.gz"]
    assert rep["unverified"] == ["stations_region.csv", "hourly/china_sites_20200101.csv.gz"]


def test_base_url_from_environment(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, st = server
    build_archive(st.root, ["20190101"])
    monkeypatch.setenv("AIRATLAS_ARCHIVE_URL", base + "/")
    rep = fetch_archive(start="2019-01-01", end="2019-01-01", out=tmp_path / "out", backoff=0.0, progress=False)
    assert rep["base_url"] == base and DAY1 in rep["downloaded"]


def test_unreachable_server_fails_after_retries(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match=r"stations_region\.csv: .*after 2 attempts"):
        _fetch(f"http://127.0.0.1:{port}", tmp_path / "out", end="2019-01-01", retries=2)


def test_cli_data_fetch(server, tmp_path: Path) -> None:
    """`python -m core data fetch` calls fetch_archive with its documented options (progress bars on)."""
    import json

    from typer.testing import CliRunner

    from core.__main__ import app

    base, st = server
    build_archive(st.root, ["20190101"])
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["data", "fetch", "--start", "2019-01-01", "--end", "2019-01-01",
                                   "--out", str(out), "--base-url", base, "--retries", "2"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout[res.stdout.index("{"):])
    assert rep["downloaded"] == ["stations_region.csv", DAY1] and rep["failed"] == []
    assert (out / DAY1).read_bytes() == (st.root / DAY1).read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "2019-02-01", "end": "2019-01-01"}, "before start"),
        ({"start": "01/02/2019", "end": "2019-01-01"}, "not a date"),
        ({"start": "2019-01-01", "end": "2019-01-01", "retries": 0}, "retries"),
        ({"start": "2019-01-01", "end": "2019-01-01", "base_url": "ftp://x"}, "http"),
    ],
)
def test_bad_requests(tmp_path: Path, kwargs: dict, match: str) -> None:
    kwargs = {"base_url": "http://127.0.0.1:9", "retries": 1} | kwargs
    with pytest.raises(InvalidRequest, match=match):
        fetch_archive(out=tmp_path / "out", progress=False, **kwargs)


@pytest.mark.parametrize(
    ("url", "layout"),
    [("https://quotsoft.net/air/data", PUBLIC), ("http://127.0.0.1:8000/cnemc", MIRROR),
     ("https://example.org/quotsoft.net", MIRROR)],
)
def test_layout_for(url: str, layout) -> None:
    assert layout_for(url) is layout


def test_shipped_manifest_is_small_and_complete() -> None:
    sums = parse_manifest(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    assert SHIPPED_MANIFEST.stat().st_size < 100_000
    days = [k for k in sums if k.startswith("hourly/")]
    assert len(days) == 364 and "hourly/china_sites_20190408.csv.gz" not in sums
    assert "stations_region.csv" in sums


@pytest.mark.realdata
def test_real_archive_verified_by_shipped_manifest(server, tmp_path: Path, shared_data: Path) -> None:
    """Serve the real 2019 folder (read in place) without its SHA256SUMS.txt: the shipped checksums
    verify the real files, 2019-04-08 is a 404 day, and the result loads."""
    base, st = server
    st.root = shared_data / "raw" / "cnemc_bth_2019"
    st.hidden = {"SHA256SUMS.txt"}
    rep = _fetch(base, tmp_path / "out", start="2019-04-07", end="2019-04-09")
    assert rep["manifest"] == "core/conf/cnemc_2019_sha256.txt" and rep["unverified"] == []
    assert rep["missing"] == ["hourly/china_sites_20190408.csv.gz"]
    ds = load_stationset(path=tmp_path / "out")
    s = summary(ds)
    assert s["time_start"] == "2019-04-07T00" and s["time_end"] == "2019-04-09T23"
    assert not ds["present"].sel(time=pd.Timestamp("2019-04-08 12:00")).item()
    assert s["bth_active"] >= 75


# ------------------------------------------------------------------ files no checksum covers

D20 = "hourly/china_sites_20200101.csv.gz"  # 2020: neither the archive nor the shipped manifest has its sha256


def _unverified_archive(server) -> tuple[str, ServerState]:
    base, st = server
    build_archive(st.root, ["20200101", "20200102"], sums=False)
    return base, st


CORRUPTIONS = {
    "garbage": lambda b: b"<html>502 Bad Gateway</html>",
    "empty": lambda b: b"",
    "truncated_gzip": lambda b: b[: len(b) // 2],
    "flipped_header": lambda b: gzip.compress(b"datum,stunde,typ,1001A\n20200101,0,PM2.5,3\n"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_an_unreadable_file_no_checksum_covers_is_downloaded_again(server, tmp_path: Path, corruption: str) -> None:
    base, st = _unverified_archive(server)
    out = tmp_path / "out"
    first = _fetch(base, out, start="2020-01-01", end="2020-01-02")
    assert D20 in first["unverified"] and first["replaced"] == []
    good = (out / D20).read_bytes()
    (out / D20).write_bytes(CORRUPTIONS[corruption](good))
    again = _fetch(base, out, start="2020-01-01", end="2020-01-02")
    assert again["replaced"] == [D20] and D20 in again["downloaded"] and "stations_region.csv" in again["skipped"]
    assert (out / D20).read_bytes() == good and any("present but unreadable" in n for n in again["notes"])
    third = _fetch(base, out, start="2020-01-01", end="2020-01-02")  # now readable: left alone
    assert D20 in third["skipped"] and third["replaced"] == []
    assert not (out / "hourly" / ".fetch-check").exists()
    ds = load_stationset(path=out)  # (the fixture's CO of 5–150 "mg/m³" is above the ceiling: warned, not skipped)
    assert int(ds["present"].sum()) == 48 and not any("skipped" in w.message for w in load_warnings(ds))


def test_a_download_no_checksum_covers_must_be_readable(server, tmp_path: Path) -> None:
    base, st = _unverified_archive(server)
    (st.root / D20).write_bytes(b"<html>maintenance</html>")
    with pytest.raises(FetchError, match=r"china_sites_20200101\.csv\.gz: downloaded file is unreadable"):
        _fetch(base, tmp_path / "out", start="2020-01-01", end="2020-01-02", retries=2)
    assert not (tmp_path / "out" / D20).exists()


def test_force_downloads_verified_files_again_and_keeps_the_old_copy_on_failure(server, tmp_path: Path) -> None:
    base, st = server
    build_archive(st.root, ["20190101", "20190102"])
    out = tmp_path / "out"
    _fetch(base, out, end="2019-01-02")
    assert _fetch(base, out, end="2019-01-02")["bytes"] == 0  # verified: nothing to do
    forced = _fetch(base, out, end="2019-01-02", force=True)
    assert sorted(forced["replaced"]) == sorted(["stations_region.csv", DAY1, DAY2]) and forced["bytes"] > 0
    old = (out / DAY2).read_bytes()
    st.faults[DAY2] = ["500"] * 4
    with pytest.raises(FetchError, match="china_sites_20190102"):
        _fetch(base, out, end="2019-01-02", force=True, retries=2)
    assert (out / DAY2).read_bytes() == old  # nothing the user had is lost


def test_cli_data_fetch_force(server, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from core.__main__ import app

    base, st = server
    build_archive(st.root, ["20190101"])
    out = tmp_path / "out"
    args = ["data", "fetch", "--start", "2019-01-01", "--end", "2019-01-01", "--out", str(out), "--base-url", base]
    assert CliRunner().invoke(app, args).exit_code == 0
    res = CliRunner().invoke(app, [*args, "--force"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout[res.stdout.index("{"):])["replaced"] == ["stations_region.csv", DAY1]
    assert "--force" in CliRunner().invoke(app, ["data", "fetch", "--help"]).output
