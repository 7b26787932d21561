"""core.contracts.period: the one parser of the spans users type."""

from __future__ import annotations

import numpy as np
import pytest

from core.contracts.period import parse_bounds, parse_period
from core.errors import InvalidRequest


@pytest.mark.parametrize(("start", "end", "last"), [
    ("2019-01-01", "2019-01-31", "2019-01-31T23:00"),  # a bare end date means its whole day
    ("2019-01-01", "2019-01-02T05", "2019-01-02T05:00"),
    ("2019-01-01T06", "2019-01-01T06", "2019-01-01T06:00"),
])
def test_bounds_are_inclusive(start, end, last):
    a, b = parse_bounds(start, end)
    assert a == np.datetime64(start, "ns") and b == np.datetime64(last, "ns")
    assert parse_period(f"{start}/{end}") == (a, b)


@pytest.mark.parametrize(("period", "match"), [
    ("2019-01-01", "START/END"),
    ("2019-01-01/", "START/END"),
    ("2019-02-01/2019-01-01", "before start"),
    ("yesterday/2019-01-01", "must look like"),
])
def test_bad_periods_say_what_is_wrong(period, match):
    with pytest.raises(InvalidRequest, match=match):
        parse_period(period)


def test_a_period_outside_the_data_is_refused():
    times = np.arange(np.datetime64("2019-01-01T00"), np.datetime64("2019-01-03T00"), np.timedelta64(1, "h"))
    assert parse_period("2019-01-02/2019-01-05", times)[0] == np.datetime64("2019-01-02", "ns")
    with pytest.raises(InvalidRequest, match="outside the data"):
        parse_period("2020-01-01/2020-01-02", times)
