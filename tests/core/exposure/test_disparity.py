"""Disparity figures: fractional ranks, quintile ratio, concentration index."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.exposure import concentration_index, fractional_rank, quintile_ratio
from core.exposure.disparity import quantile_means


@pytest.mark.parametrize(("v", "w", "want"), [
    ([1, 2, 3], [1, 1, 2], [0.125, 0.375, 0.75]),
    ([1, 1, 3], [1, 1, 2], [0.25, 0.25, 0.75]),  # ties share a rank
])
def test_fractional_rank(v, w, want):
    np.testing.assert_allclose(fractional_rank(np.array(v, float), np.array(w, float)), want)


def test_disparity_signs_and_quintiles():
    v = np.linspace(0, 1, 10)
    w = np.ones(10)
    assert concentration_index(v * 10 + 1, v, w) > 0 > concentration_index(11 - v * 10, v, w)
    m = quantile_means(np.arange(10.0) + 1, v, w)
    np.testing.assert_allclose(m, [1.5, 3.5, 5.5, 7.5, 9.5])
    assert quintile_ratio(np.arange(10.0) + 1, v, w) == pytest.approx(9.5 / 1.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 500), st.floats(0, 1), st.floats(1, 1e6)), min_size=2, max_size=30),
       st.floats(0.1, 10))
def test_concentration_index_bounds_and_scale_invariance(rows, scale):
    h, v, w = (np.array(c) for c in zip(*rows, strict=True))
    ci = concentration_index(h, v, w)
    assert -1 < ci < 1
    assert concentration_index(h * scale, v, w) == pytest.approx(ci, abs=1e-9)
    # ranking by the same indicator with weights doubled changes nothing
    assert concentration_index(h, v, 2 * w) == pytest.approx(ci, abs=1e-9)
