"""A window cut into prediction chunks, and those chunks batched: the loop every neural Kriger pass runs.

Chunks are ``predict`` hours long (the last may be shorter); each reads up to ``history`` hours before it
(fewer at the start of the data). :data:`CHUNKS_PER_BATCH` consecutive chunks make a group, and chunks of a
group with the same input length run as one batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.nn.features import NodeData, make_batch

CHUNKS_PER_BATCH = 8


@dataclass(frozen=True)
class Chunk:
    """Hours ``start … stop-1`` (indices into the StationSet's time axis) predicted from input ``input_start …
    stop-1``; ``index`` is its position in the window's chunk list."""

    index: int
    start: int
    stop: int
    input_start: int


@dataclass
class ChunkBatch:
    """Chunks run as one batch: one row each, in order, all with ``length`` input hours from ``starts``."""

    chunks: list[Chunk]
    starts: np.ndarray
    length: int
    batch: dict


def window_chunks(i0: int, i1: int, predict: int, history: int) -> list[Chunk]:
    """Hours ``i0 … i1-1`` cut into chunks of ``predict`` hours, each reading up to ``history`` hours before it."""
    return [Chunk(c, a, min(a + predict, i1), max(0, a - history))
            for c, a in enumerate(range(i0, i1, predict))]


def even_chunks(i0: int, i1: int, longest: int) -> list[Chunk]:
    """Hours ``i0 … i1-1`` cut into the fewest chunks of at most ``longest`` hours, of near-equal length, each
    reading only its own hours — for encoders that read a chunk both ways (non-causal): no chunk is left
    much shorter than the rest, whose hours would see little context (48 + 24 h for a 72-h window)."""
    n = max(1, -(-(i1 - i0) // max(1, int(longest))))
    edges = np.linspace(i0, i1, n + 1).round().astype(int)
    return [Chunk(c, int(a), int(b), int(a)) for c, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))]


def chunk_batches(chunks: list[Chunk], nodes: NodeData, obs: np.ndarray,
                  device: torch.device | str) -> Iterator[ChunkBatch]:
    """Station batches (no truth) of ``chunks``, one at a time so a long window never holds every batch at once.

    ``obs``: (T, N) bool, which node is observed at each hour of ``nodes``.
    """
    for g in range(0, len(chunks), CHUNKS_PER_BATCH):
        group = chunks[g:g + CHUNKS_PER_BATCH]
        for length in sorted({ch.stop - ch.input_start for ch in group}):
            members = [ch for ch in group if ch.stop - ch.input_start == length]
            starts = np.array([ch.input_start for ch in members])
            sl = starts[:, None] + np.arange(length)[None, :]
            batch = make_batch(nodes, starts, length, obs[sl], device=device, with_truth=False)
            yield ChunkBatch(members, starts, length, batch)
