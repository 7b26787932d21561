"""The scenario a user looks at, kept in ``st.session_state`` and mirrored into ``st.query_params``.

A copied URL reproduces the scenario: ``?dataset=…&date=YYYY-MM-DD&hour=mean|0..23&model=…&masked=A,B&page=…``.
Session state is per browser session, so several users never share a scenario; only the
cached models and datasets are shared (read-only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# session_state keys (widget keys are the sidebar's; the others are plain state).
K_DATASET = "sb_dataset"
K_DATE = "sb_date"
K_HOUR = "sb_hour"
K_MODEL = "sb_model"
K_MASKED = "masked"  # tuple[str, ...] of hidden station codes, applied (what results are computed with)
K_PENDING = "mask_pending"  # list[str]: the masking lab's edits before "Rerun"
K_INIT = "_scenario_from_url"
K_PAGE = "page"
K_PLACE = "place"  # (lat, lon, label) chosen on the hotspot map

DAILY_MEAN = "daily mean"
QUERY_KEYS = ("dataset", "date", "hour", "model", "masked", "page")


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
