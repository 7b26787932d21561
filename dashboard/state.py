"""The scenario a user looks at, kept in ``st.session_state`` and mirrored into ``st.query_params``.

A copied URL reproduces the scenario: ``?dataset=…&date=YYYY-MM-DD&hour=mean|0..23&model=…&masked=A,B&page=…``;
pages add their own keys (hotspots: ``threshold=75`` for an absolute threshold,
``place=station:1001A|point:39.900,116.400|hotspot:2``; justice: ``ej_indicator``, ``ej_period``).
The root form ``/?…&page=justice&…`` and the path form ``/justice?…`` restore the same scenario.
Session state is per browser session, so several users never share a scenario; only the
cached models and datasets are shared (read-only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# session_state keys (widget keys are the sidebar's; the others are plain state).
K_DATASET = "sb_dataset"
K_DATE = "sb_date"  # str YYYY-MM-DD from a link; a datetime.date once the sidebar has checked it
K_HOUR = "sb_hour"  # DAILY_MEAN or an int 0–23
K_MODEL = "sb_model"
K_MASKED = "masked"  # tuple[str, ...] of hidden station codes, applied (what results are computed with)
K_PENDING = "mask_pending"  # list[str]: the masking lab's edits before "Rerun"
K_INIT = "_scenario_from_url"  # True once the session has read its URL
K_PAGE = "page"  # the page a link names; app.py pops it and switches there
K_PLACE = "place"  # Place picked on the hotspot page, on the map or in its list (see :class:`Place`)
K_URL = "_url_query"  # dict: the query the session was opened with (pages read their own keys from it once)

DAILY_MEAN = "daily mean"
QUERY_KEYS = ("dataset", "date", "hour", "model", "masked", "page")
Q_THRESHOLD, Q_PLACE = "threshold", "place"  # the hotspot page's own keys


@dataclass(frozen=True)
class Scenario:
    """Everything that determines an inference result (hashable: a cache key)."""

    dataset: str
    date: str  # YYYY-MM-DD, Beijing time
    hour: int | None  # None = daily mean
    model: str
    masked: tuple[str, ...] = ()

    def to_query(self, page: str | None = None) -> dict[str, str]:
        q = {"dataset": self.dataset, "date": self.date, "hour": DAILY_MEAN_Q if self.hour is None else str(self.hour),
             "model": self.model}
        if self.masked:
            q["masked"] = ",".join(self.masked)
        if page:
            q["page"] = page
        return q


DAILY_MEAN_Q = "mean"


def parse_hour(text: str | None) -> int | None | str:
    """``'mean'`` → None; ``'0'..'23'`` → int; anything else → the string ``'invalid'``."""
    if text is None or text == DAILY_MEAN_Q:
        return None
    try:
        h = int(text)
    except ValueError:
        return "invalid"
    return h if 0 <= h <= 23 else "invalid"


def parse_masked(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(sorted({c.strip() for c in text.split(",") if c.strip()}))


def query_to_state(query: Mapping[str, str]) -> dict:
    """Session-state entries from a URL query (unvalidated: the sidebar checks them against the data)."""
    out: dict = {}
    if query.get("dataset"):
        out[K_DATASET] = query["dataset"]
    if query.get("date"):
        out[K_DATE] = query["date"]
    if "hour" in query:
        h = parse_hour(query.get("hour"))
        out[K_HOUR] = DAILY_MEAN if h is None else h
    if query.get("model"):
        out[K_MODEL] = query["model"]
    masked = parse_masked(query.get("masked"))
    out[K_MASKED] = masked
    out[K_PENDING] = list(masked)
    if query.get("page"):
        out[K_PAGE] = query["page"]
    return out


@dataclass(frozen=True)
class Place:
    """A place picked for a time series: a station, a map point, or a ranked hotspot.

    ``scope`` is what the pick is valid for: a hotspot's rank and centroid only mean something for
    the scenario, threshold rule and prominence they were computed under (that tuple), a map point only for
    its dataset's grid (``(dataset,)``). A station needs no scope: its code is looked up in the dataset.
    """

    kind: str  # "station" | "point" | "hotspot"
    code: str = ""  # station code
    lat: float = float("nan")
    lon: float = float("nan")
    rank: int = 0  # hotspot rank
    label: str = ""
    scope: tuple = ()

    def to_query(self) -> str:
        if self.kind == "station":
            return f"station:{self.code}"
        if self.kind == "hotspot":
            return f"hotspot:{self.rank}"
        return f"point:{self.lat:.3f},{self.lon:.3f}"


def parse_place(text: str | None) -> Place | None:
    """``station:1001A`` / ``point:39.9,116.4`` / ``hotspot:2`` → Place (unlabelled, unscoped); None if malformed."""
    if not text or ":" not in text:
        return None
    kind, _, rest = text.partition(":")
    rest = rest.strip()
    try:
        if kind == "station" and rest:
            return Place("station", code=rest)
        if kind == "hotspot":
            rank = int(rest)
            return Place("hotspot", rank=rank) if rank >= 1 else None
        if kind == "point":
            lat, lon = (float(v) for v in rest.split(","))
            return Place("point", lat=lat, lon=lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None
    except ValueError:
        return None
    return None
