"""Web Mercator, the projection of the web map: the one forward formula every image and label uses."""

from __future__ import annotations

import numpy as np

MAX_LAT = 85.0  # Web Mercator's edge (±85.05°): latitudes are clipped there


def mercator_y(lat_deg: float | np.ndarray) -> float | np.ndarray:
    """Web-Mercator y of latitudes in degrees, in radians of the sphere (ln tan(π/4 + φ/2)); north is larger."""
    lat = np.radians(np.clip(np.asarray(lat_deg, float), -MAX_LAT, MAX_LAT))
    return np.log(np.tan(np.pi / 4 + lat / 2))
