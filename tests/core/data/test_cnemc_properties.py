"""Property-based: random corruptions of a small valid CNEMC folder never give a traceback, and never a
value that is not in the files. Profile in tests/conftest.py (HYPOTHESIS_PROFILE)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.data.cnemc import parse_folder
from core.data.qc import PHYSICAL_MAX
from core.errors import AirAtlasError
from tests.data.make_data import make_cnemc_folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two plain-CSV days, four stations, one dead column: the folder every example corrupts."""
    root = tmp_path_factory.mktemp("pristine")
    make_cnemc_folder(root, n_days=2, gz=False, dead_stations=("1099A",))
    return root


CELL = st.one_of(
    st.sampled_from(["", " ", "inf", "-inf", "nan", "NaN", "1e9", "1e999", "-5", "0", "1523", "2000.5", "n/a",
                     "—", "12..5", "0x10", "1,2", '"7"', '"', "\ufeff3", "3\r", "\x00"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.-+eE, \"x", max_size=8),
)

# One corruption: (kind, file index, line fraction, field fraction, payload)
OP = st.tuples(
    st.sampled_from(["cell", "cell", "cell", "drop_line", "dup_line", "swap_lines", "truncate", "redate",
                     "rehour", "retype", "empty_file", "junk_bytes", "header_cell", "stations_cell",
                     "stations_dup"]),
    st.integers(0, 1), st.floats(0, 1), st.floats(0, 1), CELL,
)


def _apply(folder: Path, op: tuple) -> None:
    kind, fi, lf, ff, payload = op
    days = sorted((folder / "hourly").iterdir())
    path = folder / "stations_region.csv" if kind.startswith("stations") else days[fi % len(days)]
    raw = path.read_bytes()
    if kind == "empty_file":
        path.write_bytes(b"")
        return
    if kind == "truncate":
        path.write_bytes(raw[: int(lf * len(raw))])
        return
    if kind == "junk_bytes":
        i = int(lf * len(raw))
        path.write_bytes(raw[:i] + payload.encode("utf-8", "replace") + bytes([0xFF, 0xFE]) + raw[i:])
        return
    lines = raw.decode("utf-8", "replace").split("\n")
    body = [i for i, ln in enumerate(lines) if ln] or [0]
    i = body[min(len(body) - 1, int(lf * len(body)))]
    if kind == "header_cell":
        i = 0
    fields = lines[i].split(",")
    j = min(len(fields) - 1, int(ff * len(fields)))
    if kind in ("cell", "header_cell", "stations_cell"):
        fields[j] = payload
    elif kind == "redate":
        fields[0] = payload if not payload.isdigit() else "20200302"
    elif kind == "rehour":
        fields[min(1, len(fields) - 1)] = payload
    elif kind == "retype":
        fields[min(2, len(fields) - 1)] = payload or "PM2.5"
    elif kind == "drop_line":
        del lines[i]
        fields = None
    elif kind in ("dup_line", "stations_dup"):
        lines.insert(i, lines[i])
        fields = None
    elif kind == "swap_lines":
        k = body[min(len(body) - 1, int(ff * len(body)))]
        lines[i], lines[k] = lines[k], lines[i]
        fields = None
    if fields is not None:
        lines[i] = ",".join(fields)
    path.write_bytes("\n".join(lines).encode("utf-8", "replace"))


def _pm25_in_files(folder: Path) -> dict[tuple[int, str], set[np.float32]]:
    """Independent reading of the corrupted files: {(hour, code): every number written in a PM2.5 row}."""
    out: dict[tuple[int, str], set[np.float32]] = {}
    for path in (folder / "hourly").iterdir():
        text = path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text.replace("\x00", ""), newline=None)))
        if not rows:
            continue
        header = [h.strip() for h in rows[0]]
        for row in rows[1:]:
            if len(row) < 4 or row[2].strip() != "PM2.5":
                continue
            try:
                hour = int(float(row[1]))
            except ValueError:
                continue
            for code, cell in zip(header[3:], row[3:], strict=False):
                try:
                    out.setdefault((hour, code), set()).add(np.float32(float(cell)))
                except ValueError:
                    pass
    return out


@given(ops=st.lists(OP, min_size=1, max_size=4))
def test_random_corruptions_never_crash_and_never_invent_a_value(pristine: Path, ops: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "f"
        shutil.copytree(pristine, folder)
        for op in ops:
            _apply(folder, op)
        try:
            ds = parse_folder(folder)
        except AirAtlasError as err:  # refused: the message names a file
            assert str(folder) in str(err) or "stations_region" in str(err) or "china_sites" in str(err)
            return
        pm = ds["pm25"].values
        assert pm.dtype == np.float32 and not np.isinf(pm).any()
        finite = np.isfinite(pm)
        assert ((pm[finite] >= 0) & (pm[finite] <= PHYSICAL_MAX["pm25"])).all()
        written = _pm25_in_files(folder)
        hours = ds["time"].values.astype("datetime64[h]").astype(np.int64) % 24
        codes = ds["station"].values.astype(str)
        for t, s in zip(*np.nonzero(finite), strict=True):
            assert pm[t, s] in written.get((int(hours[t]), codes[s]), set()), (
                f"{pm[t, s]} at hour {hours[t]}, station {codes[s]} is in no PM2.5 row of the files")
        for var in ("pm10", "so2", "no2", "o3", "co"):
            v = ds[var].values
            assert not np.isinf(v).any() and (v[np.isfinite(v)] <= PHYSICAL_MAX[var]).all()
