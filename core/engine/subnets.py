"""Sub-networks of a station graph: train on a national network one spatial neighbourhood at a time.

A training step on all ~1,480 national stations costs ~60 s on one CPU thread (the station graph is
N × N); a step on a random neighbourhood of a few hundred stations costs a fraction of that and the
models are inductive (no per-station parameters), so the same weights run on any graph afterwards.
"""

from __future__ import annotations

import numpy as np

from core.graph import Geometry
from core.nn.features import NodeData


def subset_nodes(nodes: NodeData, idx: np.ndarray) -> NodeData:
    """The nodes ``idx`` (int (n,), positions in ``nodes``) as a NodeData of their own (same time axis)."""
    idx = np.asarray(idx, dtype=int)
    geom = Geometry(nodes.geom.dist_km[np.ix_(idx, idx)], nodes.geom.bearing[np.ix_(idx, idx)])
    return NodeData(
        times=nodes.times, codes=nodes.codes[idx], lat=nodes.lat[idx], lon=nodes.lon[idx],
        is_bth=nodes.is_bth[idx], pm25=nodes.pm25[:, idx], aux=nodes.aux[:, idx],
        wind=None if nodes.wind is None else nodes.wind[:, idx], static=nodes.static[idx], geom=geom,
        tfeat=nodes.tfeat, station_index=nodes.station_index[idx],
        elev=None if nodes.elev is None else nodes.elev[idx],
    )


def random_neighbourhood(nodes: NodeData, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (sorted, int (min(size, N),)) of the ``size`` nodes nearest a node drawn uniformly:
    a compact spatial neighbourhood, so every node keeps its near neighbours except at the edge."""
    if size >= nodes.n_nodes:
        return np.arange(nodes.n_nodes)
    centre = int(rng.integers(nodes.n_nodes))
    # stable: co-located stations are taken in index order, so a seed gives the same neighbourhood
    return np.sort(np.argsort(nodes.geom.dist_km[centre], kind="stable")[:size])


def nodes_in_box(nodes: NodeData, bbox: tuple[float, float, float, float], margin_deg: float) -> np.ndarray:
    """Positions of the nodes inside ``bbox`` (W, S, E, N degrees) grown by ``margin_deg`` on every side."""
    w, s, e, n = bbox
    inside = ((nodes.lon > w - margin_deg) & (nodes.lon < e + margin_deg)
              & (nodes.lat > s - margin_deg) & (nodes.lat < n + margin_deg))
    return np.flatnonzero(inside)
