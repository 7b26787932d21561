"""Reading delimited text so that every defect is reported with its file and line.

Sources (UCI, AQI-36, ISD-Lite) share the same needs: rows with the wrong number of
fields are skipped with a warning, cells that are neither a number nor a declared
missing-value token become NaN with a warning, and a file that cannot be decoded at
all is a :class:`~core.errors.CorruptFile`. Warnings are capped per (file, kind) so a
systematically broken file gives a readable list plus one summary line instead of
thousands of entries.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.contracts.stationset import DataWarning
from core.errors import CorruptFile

MAX_PER_KIND = 25  # individual warnings per (file, kind); the rest are summarised


class WarningLog:
    """Collects :class:`DataWarning` objects, at most :data:`MAX_PER_KIND` per (file, kind)."""

    def __init__(self, root: Path | None = None, max_per_kind: int = MAX_PER_KIND) -> None:
        self.root = root
        self.max_per_kind = max_per_kind
        self._items: list[DataWarning] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._first_lines: dict[tuple[str, str], list[int]] = {}

    def name(self, path: Path | str) -> str:
        """File name as shown in warnings: relative to the dataset folder when possible."""
        p = Path(path)
        if self.root is not None:
            try:
                return str(p.relative_to(self.root))
            except ValueError:
                pass
        return p.name

    def add(self, path: Path | str, line: int | None, message: str, kind: str | None = None) -> None:
        """Record one problem; ``kind`` groups problems for the cap (defaults to the message)."""
        key = (self.name(path), kind or message)
        self._counts[key] += 1
        if self._counts[key] <= self.max_per_kind:
            self._items.append(DataWarning(key[0], line, message))
        elif line is not None and len(self._first_lines.setdefault(key, [])) < 5:
            self._first_lines[key].append(line)

    def warnings(self) -> list[DataWarning]:
        """All recorded warnings, plus one summary per (file, kind) that exceeded the cap."""
        out = list(self._items)
        for (file, kind), n in self._counts.items():
            extra = n - self.max_per_kind
            if extra > 0:
                lines = self._first_lines.get((file, kind), [])
                at = f" (e.g. lines {', '.join(map(str, lines))})" if lines else ""
                out.append(DataWarning(file, None, f"{extra} more of: {kind}{at}"))
        return out

    def __len__(self) -> int:
        return sum(self._counts.values())


def read_rows(
    path: Path, log: WarningLog, *, delimiter: str = ",", encoding: str = "utf-8-sig"
) -> tuple[list[str], list[list[str]], np.ndarray]:
    """Read a delimited file → ``(header, rows, line_numbers)``.

    Rows whose field count differs from the header's are skipped with a warning (this is
    how a truncated last row shows up); blank lines are ignored. ``line_numbers`` (int64,
    1-based, same length as ``rows``) locates each kept row in the file.
    """
    try:
        with open(path, newline="", encoding=encoding) as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise CorruptFile(f"{path}: file is empty; expected a header line. Re-download or remove it.")
            header = [h.strip() for h in header]
            rows: list[list[str]] = []
            lines: list[int] = []
            n = len(header)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != n:
                    log.add(path, reader.line_num, f"{len(row)} fields instead of {n}; row skipped",
                            kind="row with wrong number of fields skipped")
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as err:
        raise CorruptFile(f"{path}: not {encoding} text ({err.reason} at byte {err.start}). "
                          "The file is damaged or not in this format; re-download it.") from None
    except csv.Error as err:
        raise CorruptFile(f"{path}: unreadable CSV ({err}). Re-download the file.") from None
    return header, rows, np.asarray(lines, dtype=np.int64)


def require_columns(path: Path, header: Sequence[str], required: Iterable[str]) -> dict[str, int]:
    """Column index by name; :class:`CorruptFile` naming what is missing."""
    index = {h: i for i, h in enumerate(header)}
    missing = [c for c in required if c not in index]
    if missing:
        raise CorruptFile(f"{path}: missing column(s) {', '.join(missing)} in the header line; "
                          f"found {', '.join(header)}.")
    return index


def columns(rows: list[list[str]], n: int) -> list[np.ndarray]:
    """Transpose ``rows`` (each of ``n`` fields) into ``n`` object arrays of strings."""
    if not rows:
        return [np.array([], dtype=object) for _ in range(n)]
    return [np.array(c, dtype=object) for c in zip(*rows, strict=True)]


def column(rows: list[list[str]], j: int) -> np.ndarray:
    """Column ``j`` of ``rows`` as a stripped object array of strings."""
    return np.array([r[j].strip() for r in rows], dtype=object)


def to_float(
    values: np.ndarray,
    *,
    path: Path,
    lines: np.ndarray,
    column_name: str,
    log: WarningLog,
    missing: Sequence[str] = ("",),
) -> np.ndarray:
    """Strings → float64; declared ``missing`` tokens become NaN silently, anything else
    unparseable becomes NaN with a warning naming file, line and column."""
    values = np.asarray(values, dtype=object)
    out = np.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
                   .to_numpy(dtype="float64", na_value=np.nan))
    # only the NaN cells can be problems: compare them (stripped) with the missing-value tokens;
    # "inf" parses as a float but is not a value any instrument reports
    cand = np.flatnonzero(~np.isfinite(out))
    tokens = set(missing)
    bad = np.zeros(out.shape, bool)
    bad[cand] = [str(values[i]).strip() not in tokens or np.isinf(out[i]) for i in cand]
    out[cand] = np.nan
    for i in np.flatnonzero(bad):
        log.add(path, int(lines[i]), f"column {column_name}: unparseable value {str(values[i])!r} set to missing",
                kind=f"unparseable value in column {column_name}")
    return out


def drop_duplicate_hours(df, log: WarningLog, file: Path, what: str = "first record kept"):
    """Keep the first row of each repeated time index, warn at the line of each dropped one.

    ``df`` has a DatetimeIndex and a ``_line`` column (source line numbers), which is dropped.
    """
    dup = df.index.duplicated(keep="first")
    for ln in df["_line"].to_numpy()[dup]:
        log.add(file, int(ln), f"duplicated hour; {what}", kind="duplicated hour")
    return df[~dup].drop(columns="_line")


def merge_station_frames(frames: dict[str, list], log: WarningLog, root: Path, label: str) -> dict:
    """Concatenate each station's per-file frames in time order; an hour in several files keeps the first.

    ``label`` names the station kind in the warning ("station", "site").
    """
    import pandas as pd

    merged = {}
    for sid, dfs in frames.items():
        df = pd.concat(dfs).sort_index()
        dup = df.index.duplicated(keep="first")
        if dup.any():
            log.add(root, None, f"{label} {sid}: {int(dup.sum())} hours appear in more than one file; first kept")
        merged[sid] = df[~dup]
    return merged
