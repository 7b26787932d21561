"""Chunk batches: a window's hours predicted exactly once, history clipped at the data's start, equal
input lengths batched together."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.chunk_batches import CHUNKS_PER_BATCH, chunk_batches, even_chunks, window_chunks
from core.nn.features import NodeData, prepare
from tests.factories import tiny_stationset


@pytest.fixture
def nodes() -> NodeData:
    rng = np.random.default_rng(0)
    return prepare(tiny_stationset(rng.uniform(10, 90, (400, 4))))


def test_chunks_cover_the_window_once_with_clipped_history() -> None:
    chunks = window_chunks(30, 101, 24, 48)
    assert [(c.start, c.stop) for c in chunks] == [(30, 54), (54, 78), (78, 101)]
    assert [c.input_start for c in chunks] == [0, 6, 30]
    assert [c.index for c in chunks] == [0, 1, 2]


@pytest.mark.parametrize("i0, i1, longest, lengths", [
    (0, 72, 72, [72]), (0, 72, 48, [36, 36]), (0, 168, 72, [56, 56, 56]), (5, 149, 48, [48, 48, 48]),
    (5, 150, 48, [36, 37, 36, 36]), (0, 30, 48, [30]), (3, 4, 72, [1]),
])
def test_even_chunks_cover_the_window_once_in_near_equal_lengths(i0, i1, longest, lengths) -> None:
    chunks = even_chunks(i0, i1, longest)
    assert [c.stop - c.start for c in chunks] == lengths
    assert chunks[0].start == i0 and chunks[-1].stop == i1
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert [c.input_start for c in chunks] == [c.start for c in chunks]  # no history: each reads its own hours
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_batches_group_equal_input_lengths(nodes: NodeData) -> None:
    chunks = window_chunks(10, 10 + 24 * (CHUNKS_PER_BATCH + 2), 24, 12)
    obs = np.ones((400, nodes.n_nodes), bool)
    parts = list(chunk_batches(chunks, nodes, obs, "cpu"))
    seen = [c.index for p in parts for c in p.chunks]
    assert sorted(seen) == list(range(len(chunks))) and len(seen) == len(set(seen))
    for p in parts:
        assert len(p.chunks) <= CHUNKS_PER_BATCH
        assert {c.stop - c.input_start for c in p.chunks} == {p.length}
        assert p.starts.tolist() == [c.input_start for c in p.chunks]
        assert p.batch["x"].shape[:2] == (len(p.chunks), p.length)
    assert parts[0].length == 10 + 24 and parts[1].length == 36  # the first chunk's history is cut at hour 0
