"""One parser for the time spans users type: ``START``/``END`` dates or ISO times, Beijing time.

A bare date as the end means its whole day (through 23:00), so ``2019-01-01/2019-01-31`` is all of January.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.contracts.kriger import Window
from core.errors import InvalidRequest

DATE_ONLY_CHARS = 10  # "2019-01-31": an end this short is a date, not a time


def parse_bounds(start: str, end: str, what: str = "period") -> tuple[np.datetime64, np.datetime64]:
    """Inclusive bounds (datetime64[ns]) from two strings; ``what`` names the input in errors."""
    try:
        t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError) as err:
        raise InvalidRequest(f"{what}: dates must look like 2019-01-31 or 2019-01-31T06:00 "
                             f"(got start={start!r}, end={end!r}): {err}") from None
    if len(str(end).strip()) <= DATE_ONLY_CHARS:
        t1 = t1 + pd.Timedelta(hours=23)
    if t1 < t0:
        raise InvalidRequest(f"{what}: end {end} is before start {start}.")
    return np.datetime64(t0, "ns"), np.datetime64(t1, "ns")


def parse_period(period: str, times: np.ndarray | None = None) -> tuple[np.datetime64, np.datetime64]:
    """``START/END`` (e.g. ``2019-01-01/2019-01-31``) → inclusive bounds; with ``times``, bounds that miss
    the data entirely (a typo in the year, say) are refused."""
    parts = period.split("/")
    if len(parts) != 2 or not all(parts):
        raise InvalidRequest(f"--period must look like START/END (e.g. 2019-01-01/2019-01-31), got '{period}'.")
    a, b = parse_bounds(parts[0], parts[1], what=f"--period '{period}'")
    if times is not None and len(times) and (b < times[0] or a > times[-1]):
        t0, t1 = pd.Timestamp(times[0]), pd.Timestamp(times[-1])
        raise InvalidRequest(f"--period {period} lies outside the data ({t0:%Y-%m-%d %H:00} … {t1:%Y-%m-%d %H:00}).")
    return a, b


def parse_window(start: str, end: str, what: str = "--start/--end") -> Window:
    """The inclusive :class:`~core.contracts.kriger.Window` of two strings (see :func:`parse_bounds`)."""
    return Window.of(*parse_bounds(start, end, what=what))
