"""Download a CNEMC daily archive with sha256 checks, HTTP-Range resume and retries.

Two remote layouts are understood (chosen from the base URL, see :func:`layout_for`):

- **mirror** (any base URL except the public archive below; e.g. a copy of
  ``../shared/data/raw/cnemc_bth_2019`` served over HTTP)::

      <base>/hourly/china_sites_YYYYMMDD.csv.gz
      <base>/stations_region.csv
      <base>/SHA256SUMS.txt            (optional; "<sha256>  <relative path>" per line)

- **public** (:data:`PUBLIC_ARCHIVE_URL`, the quotsoft.net re-distribution of the CNEMC real-time
  release): ``<base>/china_sites_YYYYMMDD.csv`` — national, uncompressed, no checksums and no
  station list (supply ``stations_region.csv`` yourself: ``code,name,city,lon,lat,is_BTH``).

Files land in ``<out>/hourly/`` and ``<out>/stations_region.csv``, i.e. a folder that
:func:`core.data.load.load_stationset` reads. Checksums come from ``<base>/SHA256SUMS.txt``
or, when the archive serves none, from the manifest shipped in ``core/conf/`` (the 2019
BTH-region subset files); a file no manifest covers is kept and listed as ``unverified``.

Robustness: a download goes to ``<file>.part`` and is renamed only when complete and verified;
an interrupted transfer resumes with ``Range: bytes=<n>-``; a checksum mismatch deletes the
file and downloads it again; transient errors are retried ``retries`` times with exponential
backoff; a day the archive does not have (HTTP 404) is listed as ``missing``; files already
present and verified are skipped. A present file no checksum covers is kept only if the CNEMC
loader can read it; one it cannot (the loader's "re-download this day") is downloaded again and
listed as ``replaced``; a download no checksum covers must be readable too. ``force=True``
(``--force``) downloads every file again; a file is replaced only once its new copy is complete,
so a failed re-download never loses the old one. If any file still fails, :class:`~core.errors.FetchError`
names each one (the partial report is on ``err.report``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import requests
import urllib3
from tqdm.auto import tqdm

from core.errors import FetchError, InvalidRequest
from core.hashing import sha256_file
from core.paths import REPO_ROOT

ENV_URL = "AIRATLAS_ARCHIVE_URL"
PUBLIC_ARCHIVE_URL = "https://quotsoft.net/air/data"
SHIPPED_MANIFEST = REPO_ROOT / "core" / "conf" / "cnemc_2019_sha256.txt"
CHUNK = 1 << 16
TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
USER_AGENT = "AirAtlas-fetch/1 (+python-requests)"


@dataclass(frozen=True)
class Layout:
    """Where things are on the server (``remote_*``, relative to the base URL) and locally (``local_*``)."""

    name: str
    remote_day: str
    local_day: str
    stations: str | None  # same relative path remotely and locally
    sums: str | None


MIRROR = Layout("mirror", "hourly/china_sites_{ymd}.csv.gz", "hourly/china_sites_{ymd}.csv.gz",
                "stations_region.csv", "SHA256SUMS.txt")
PUBLIC = Layout("public", "china_sites_{ymd}.csv", "hourly/china_sites_{ymd}.csv", None, None)


class _Missing(Exception):
    """HTTP 404: the archive has no such file."""


class _Permanent(Exception):
    """An HTTP error retrying will not fix (4xx other than 404/408/429)."""


class _Retry(Exception):
    """A transient failure (short body, checksum mismatch, 5xx, bad range answer)."""


def layout_for(base_url: str) -> Layout:
    """The public quotsoft.net archive has the flat public layout; every other base URL the mirror layout."""
    host = (urlparse(base_url).hostname or "").lower()
    return PUBLIC if host == "quotsoft.net" or host.endswith(".quotsoft.net") else MIRROR


def parse_manifest(text: str) -> dict[str, str]:
    """``sha256sum`` output → {relative path: hex digest}; comments, blanks and odd lines are ignored."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if m and not line.startswith("#"):
            out[m.group(2).removeprefix("./")] = m.group(1).lower()
    return out


def _day(s: str | dt.date, what: str) -> dt.date:
    if isinstance(s, dt.datetime):
        return s.date()
    if isinstance(s, dt.date):
        return s
    try:
        return dt.date.fromisoformat(str(s).strip())
    except ValueError:
        raise InvalidRequest(f"{what} {s!r} is not a date; use YYYY-MM-DD (e.g. 2019-01-01).") from None


class _Job(NamedTuple):
    """One file to fetch: where it is on the server, where it goes under ``out``, and whether it is a day file."""

    remote: str
    local: str
    is_day: bool


def _archive_url(start: str | dt.date, end: str | dt.date, base_url: str | None,
                 retries: int) -> tuple[dt.date, dt.date, str]:
    """Check the request → (first day, last day, archive root without a trailing slash)."""
    d0, d1 = _day(start, "start"), _day(end, "end")
    if d1 < d0:
        raise InvalidRequest(f"end {d1} is before start {d0}.")
    if retries < 1:
        raise InvalidRequest("retries must be at least 1.")
    base = (base_url or os.environ.get(ENV_URL) or PUBLIC_ARCHIVE_URL).rstrip("/")
    if urlparse(base).scheme not in ("http", "https"):
        raise InvalidRequest(f"base URL {base!r} must start with http:// or https://.")
    return d0, d1, base


def _jobs(layout: Layout, d0: dt.date, d1: dt.date, out: Path, report: dict) -> list[_Job]:
    """The station list (if the layout has one; else a note) and one file per day ``d0``…``d1``."""
    jobs: list[_Job] = []
    if layout.stations:
        jobs.append(_Job(layout.stations, layout.stations, False))
    else:
        report["notes"].append(
            "This archive publishes no station list: put a stations_region.csv "
            f"(code,name,city,lon,lat,is_BTH) into {out} before loading it."
        )
    day = d0
    while day <= d1:
        ymd = day.strftime("%Y%m%d")
        jobs.append(_Job(layout.remote_day.format(ymd=ymd), layout.local_day.format(ymd=ymd), True))
        day += dt.timedelta(days=1)
    return jobs


def _limit_shipped_sums(sums: dict[str, str], report: dict, layout: Layout, d0: dt.date, d1: dt.date) -> None:
    """The shipped sums describe the 2019 archive; another period legitimately has another station list,
    so its checksum is dropped (in place) when the days asked for are not all covered."""
    shipped = report["manifest"] == str(SHIPPED_MANIFEST.relative_to(REPO_ROOT))
    if shipped and layout.stations in sums:
        covered = sorted(m.group(1) for k in sums if (m := re.search(r"china_sites_(\d{8})", k)))
        if covered and not (covered[0] <= d0.strftime("%Y%m%d") and d1.strftime("%Y%m%d") <= covered[-1]):
            del sums[layout.stations]


def _run_jobs(jobs: list[_Job], http: requests.Session, base: str, out: Path, sums: dict[str, str], retries: int,
              backoff: float, report: dict, progress: bool, force: bool) -> dict[str, str]:
    """Fetch each file, recording its status in ``report``; → {local path: reason} of the files that failed.

    A station list the server lacks is a failure (a missing day is only ``missing``).
    """
    errors: dict[str, str] = {}
    bar = tqdm(jobs, desc="fetch", unit="file", disable=not progress)
    for remote, local, is_day in bar:
        bar.set_postfix_str(Path(local).name)
        status, reason = _fetch_one(http, f"{base}/{remote}", out / local, sums.get(local), retries, backoff,
                                    report, progress, force=force)
        if status == "missing" and not is_day:
            status, reason = "failed", f"not on the server ({base}/{remote} → 404)"
        report[status].append(local)
        if status == "failed":
            errors[local] = reason
        elif status in ("downloaded", "skipped") and local not in sums:
            report["unverified"].append(local)
    bar.close()
    for tmp in (out / "hourly" / ".fetch-check", out / ".fetch-check"):
        if tmp.is_dir() and not any(tmp.iterdir()):
            tmp.rmdir()
    return errors


def _raise_if_incomplete(jobs: list[_Job], errors: dict[str, str], report: dict, base: str, layout: Layout,
                         out: Path) -> None:
    """:class:`FetchError` naming every failed file (and all days missing: likely a wrong URL or period)."""
    n_days = sum(1 for job in jobs if job.is_day)
    if n_days and len([m for m in report["missing"] if m.startswith("hourly/")]) == n_days:
        errors["hourly/"] = (f"none of the {n_days} daily files exists at {base}/"
                             f"{layout.remote_day.format(ymd='YYYYMMDD')}; check --base-url and the dates")
    if errors:
        lines = "; ".join(f"{k}: {v}" for k, v in errors.items())
        err = FetchError(f"Download incomplete into {out}: {lines}. Re-run the same command to resume "
                         f"({len(report['downloaded'])} downloaded, {len(report['skipped'])} already complete).")
        err.report = report  # type: ignore[attr-defined]
        raise err


def fetch_archive(
    start: str | dt.date,
    end: str | dt.date,
    out: str | Path,
    base_url: str | None = None,
    retries: int = 3,
    *,
    backoff: float = 1.0,
    progress: bool = True,
    session: requests.Session | None = None,
    force: bool = False,
) -> dict:
    """Download days ``start``…``end`` (inclusive) and the station list into ``out``.

    ``base_url``: archive root; default ``$AIRATLAS_ARCHIVE_URL``, else :data:`PUBLIC_ARCHIVE_URL`.
    ``retries``: attempts per file (≥ 1); waits ``backoff · 2^(attempt-1)`` s between attempts.
    Returns ``{"downloaded", "skipped", "missing", "unverified", "failed"}`` (lists of paths relative
    to ``out``), ``"bytes"`` (bytes received), ``"manifest"`` (where checksums came from), ``"base_url"``,
    ``"layout"``, ``"out"``, ``"replaced"`` (present files downloaded again: unreadable, or ``force``)
    and ``"notes"``. Raises :class:`FetchError` if any file failed.
    """
    d0, d1, base = _archive_url(start, end, base_url, retries)
    layout = layout_for(base)
    out = Path(out).expanduser()
    (out / "hourly").mkdir(parents=True, exist_ok=True)
    http = session or requests.Session()
    http.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    report: dict = {"downloaded": [], "skipped": [], "missing": [], "unverified": [], "failed": [], "replaced": [],
                    "bytes": 0,
                    "manifest": "none", "base_url": base, "layout": layout.name, "out": str(out), "notes": []}
    sums = _manifest(http, base, layout, out, retries, backoff, report)
    jobs = _jobs(layout, d0, d1, out, report)
    _limit_shipped_sums(sums, report, layout, d0, d1)
    errors = _run_jobs(jobs, http, base, out, sums, retries, backoff, report, progress, force)
    _raise_if_incomplete(jobs, errors, report, base, layout, out)
    return report


def _manifest(http: requests.Session, base: str, layout: Layout, out: Path, retries: int, backoff: float,
              report: dict) -> dict[str, str]:
    """Checksums: the archive's SHA256SUMS.txt, else the shipped manifest (mirror layout), else none."""
    if layout.sums:
        for attempt in range(1, retries + 1):
            try:
                r = http.get(f"{base}/{layout.sums}", timeout=TIMEOUT)
                if r.status_code == 200:
                    sums = parse_manifest(r.text)
                    if sums:
                        (out / layout.sums).write_text(r.text, encoding="utf-8")
                        report["manifest"] = f"{base}/{layout.sums}"
                        return sums
                    report["notes"].append(f"{base}/{layout.sums} has no checksum lines; ignored")
                    break
                if r.status_code == 404 or 400 <= r.status_code < 500:
                    break
            except requests.RequestException:
                pass
            if attempt < retries:
                time.sleep(backoff * 2 ** (attempt - 1))
        if SHIPPED_MANIFEST.is_file():
            report["manifest"] = str(SHIPPED_MANIFEST.relative_to(REPO_ROOT))
            report["notes"].append(f"{base}/{layout.sums} not available: using the shipped 2019 checksums; "
                                   "files they do not cover are listed as unverified")
            return parse_manifest(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    report["notes"].append("no checksums available for this archive: downloaded files are unverified")
    return {}


def unreadable(path: Path) -> str | None:
    """Why the CNEMC loader would refuse ``path`` (a day file or the station list), or None if it reads it."""
    from core.data.cnemc import FILE_RE, STATIONS_FILE, parse_day, read_stations
    from core.errors import CorruptFile

    try:
        if path.name == STATIONS_FILE:
            read_stations(path, [])
        elif m := FILE_RE.match(path.name):
            parse_day(path, dt.datetime.strptime(m.group(1), "%Y%m%d").date(), [])
    except CorruptFile as err:
        return str(err)
    return None


def _fetch_one(http: requests.Session, url: str, dest: Path, sha: str | None, retries: int, backoff: float,
               report: dict, progress: bool, force: bool = False) -> tuple[str, str]:
    """Get one file → ("downloaded" | "skipped" | "missing" | "failed", reason).

    An existing file is replaced only by a complete, verified (or, without a checksum, readable) copy.
    """
    part = dest.with_name(dest.name + ".part")
    replacing = False
    if dest.is_file():
        if force:
            replacing = True
            part.unlink(missing_ok=True)  # a forced download starts from scratch
        elif sha is not None:
            if sha256_file(dest) == sha:
                return "skipped", ""
            dest.unlink()  # present but corrupt: fetch it again
        elif (why := unreadable(dest)) is None:
            return "skipped", ""
        else:  # no checksum covers it and the loader cannot read it: the loader says "re-download"
            replacing = True
            report["notes"].append(f"{dest.name}: present but unreadable ({why}); downloaded again")
    reason = ""
    for attempt in range(1, retries + 1):
        try:
            _transfer(http, url, part, report, progress)
            if sha is not None and (got := sha256_file(part)) != sha:
                part.unlink()
                raise _Retry(f"sha256 mismatch (got {got[:12]}…, expected {sha[:12]}…); file deleted")
            if sha is None:  # nothing vouches for the bytes: the loader must at least read them
                check = dest.parent / ".fetch-check" / dest.name  # the real name: the parser keys on it
                check.parent.mkdir(exist_ok=True)
                os.replace(part, check)
                if why := unreadable(check):
                    check.unlink()
                    raise _Retry(f"downloaded file is unreadable and no checksum covers it ({why})")
                part = check
            os.replace(part, dest)
            if replacing:
                report["replaced"].append(str(dest.relative_to(Path(report["out"]))))
            return "downloaded", ""
        except _Missing:
            return "missing", "404"
        except _Permanent as err:
            return "failed", str(err)
        except (_Retry, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            reason = f"{type(err).__name__}: {err}" if not isinstance(err, _Retry) else str(err)
        if attempt < retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    return "failed", f"{reason} (after {retries} attempts)"


def _transfer(http: requests.Session, url: str, part: Path, report: dict, progress: bool) -> None:
    """Stream ``url`` into ``part``, resuming from its current size; raise unless the body is complete."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with http.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
        if r.status_code == 404:
            raise _Missing()
        if r.status_code == 416:  # nothing left to send: the .part may be whole, or stale
            total = _total_from_content_range(r.headers.get("Content-Range", ""))
            if total is not None and total == have:
                return
            part.unlink(missing_ok=True)
            raise _Retry("server refused the resume range; restarting the file")
        if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
            raise _Permanent(f"HTTP {r.status_code} for {url}")
        if r.status_code >= 400:
            raise _Retry(f"HTTP {r.status_code} for {url}")
        enc = r.headers.get("Content-Encoding", "identity").lower()
        if enc not in ("identity", ""):
            raise _Permanent(f"server sent Content-Encoding {enc} despite Accept-Encoding: identity ({url})")
        if r.status_code == 206:
            start, total = _parse_content_range(r.headers.get("Content-Range", ""))
            if start != have:
                part.unlink(missing_ok=True)
                raise _Retry(f"server resumed at byte {start}, expected {have}; restarting the file")
            mode = "ab"
        else:  # 200: the server ignored the range (or there was none) — start over
            have, mode = 0, "wb"
            total = int(r.headers["Content-Length"]) if "Content-Length" in r.headers else None
        got = have
        with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True, leave=False,
                                          desc=part.name.removesuffix(".part"), disable=not progress) as pb:
            # keep every byte that arrives: urllib3 would otherwise drop a partial last read when the
            # connection breaks; the length is checked below and the .part resumed
            r.raw.enforce_content_length = False
            for chunk in r.raw.stream(CHUNK, decode_content=False):
                fh.write(chunk)
                got += len(chunk)
                report["bytes"] += len(chunk)
                pb.update(len(chunk))
    if total is not None and got != total:
        raise _Retry(f"transfer interrupted at {got} of {total} bytes; will resume")


def _parse_content_range(value: str) -> tuple[int, int | None]:
    m = re.match(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", value)
    if not m:
        raise _Retry(f"unreadable Content-Range {value!r}")
    return int(m.group(1)), None if m.group(3) == "*" else int(m.group(3))


def _total_from_content_range(value: str) -> int | None:
    m = re.match(r"^\s*bytes\s+\*/(\d+)\s*$", value)
    return int(m.group(1)) if m else None
