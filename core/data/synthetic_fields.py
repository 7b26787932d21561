"""Forcing fields of the synthetic simulator: wind, mixing height, emission pattern and cycle.

Everything is a deterministic function of the configuration and a numpy ``Generator``;
nothing here integrates in time (see :mod:`core.data.synthetic_transport`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.contracts.stationset import DataWarning
from core.data.population import POP_RES, read_population_table
from core.data.synthetic_transport import R_EARTH, Geometry
from core.errors import CorruptFile, DataNotFound
from core.paths import geo_dir

# Prefecture-level cities of BTH: (name, lat, lon, population in millions, ~2015). Used when no
# population grid is available, so the simulator still has a plausible emission pattern.
CITIES: tuple[tuple[str, float, float, float], ...] = (
    ("北京", 39.90, 116.40, 21.7), ("天津", 39.13, 117.20, 15.5), ("石家庄", 38.04, 114.51, 10.7),
    ("唐山", 39.63, 118.18, 7.8), ("秦皇岛", 39.94, 119.60, 3.1), ("邯郸", 36.61, 114.49, 9.4),
    ("邢台", 37.07, 114.50, 7.3), ("保定", 38.87, 115.46, 11.5), ("张家口", 40.82, 114.88, 4.4),
    ("承德", 40.95, 117.96, 3.5), ("沧州", 38.30, 116.84, 7.4), ("廊坊", 39.52, 116.70, 4.6),
    ("衡水", 37.74, 115.67, 4.4),
)
SOURCE_RES = POP_RES  # the population grid's cell size (degrees), cells centred on x.x5


def local_hour(start: pd.Timestamp, t_hours: float | np.ndarray) -> float | np.ndarray:
    """Hour of day (0–24, Beijing time) ``t_hours`` after ``start``."""
    return (start.hour + start.minute / 60 + np.asarray(t_hours, float)) % 24


def mixing_height(hour: float | np.ndarray, mean: float, amplitude: float) -> float | np.ndarray:
    """Boundary-layer depth (m): deepest at 14 h, shallowest at 2 h, ``mean·(1 ± amplitude)``."""
    return mean * (1 + amplitude * np.cos(2 * np.pi * (np.asarray(hour) - 14) / 24))


def emission_cycle(hour: float | np.ndarray) -> float | np.ndarray:
    """Diurnal emission factor (mean 1 over a day): rush-hour peaks near 8 h and 20 h, low at night."""
    h = np.asarray(hour, float)
    return 1 + 0.25 * np.cos(2 * np.pi * (h - 8) / 12) + 0.15 * np.cos(2 * np.pi * (h - 13) / 24)


@dataclass(frozen=True)
class WindModel:
    """Near-surface wind (m/s): prevailing + slowly rotating synoptic flow + drifting eddies.

    ``U(t) = mean + A(t)·(cos θ(t), sin θ(t))`` with ``θ`` turning once per ``period_h`` (fronts
    passing: stagnant southerlies, then clean north-westerlies), plus a divergence-free eddy field
    from a stream function ``ψ = Σ a_m sin(k_m·x − ω_m t + φ_m)``, all scaled by a diurnal factor
    (stronger afternoon mixing).
    """

    mean: tuple[float, float]
    rotating: float
    period_h: float
    theta0: float
    pulse_phase: float
    diurnal: float
    k: np.ndarray  # (modes, 2) wavevectors, rad/m
    amp: np.ndarray  # (modes,) stream-function amplitudes, m²/s
    omega: np.ndarray  # (modes,) rad/h
    phase: np.ndarray  # (modes,)
    lat0: float
    lon0: float
    start: pd.Timestamp

    @classmethod
    def random(cls, rng: np.random.Generator, *, mean: tuple[float, float], rotating: float, period_h: float,
               eddy: float, modes: int, diurnal: float, lat0: float, lon0: float, start: pd.Timestamp) -> WindModel:
        """Draw the eddy modes and phases from ``rng``; ``eddy`` is the eddies' rms speed (m/s)."""
        wavelength = rng.uniform(300e3, 1000e3, modes)
        direction = rng.uniform(0, 2 * np.pi, modes)
        kmag = 2 * np.pi / wavelength
        k = np.stack([kmag * np.cos(direction), kmag * np.sin(direction)], axis=1)
        # |∇ψ| of one mode has rms a·|k|/√2; share the variance equally between modes.
        amp = eddy * np.sqrt(2.0 / max(modes, 1)) / kmag
        omega = 2 * np.pi / rng.uniform(12, 72, modes) * rng.choice([-1, 1], modes)
        return cls(mean=tuple(mean), rotating=rotating, period_h=period_h, theta0=float(rng.uniform(0, 2 * np.pi)),
                   pulse_phase=float(rng.uniform(0, 2 * np.pi)), diurnal=diurnal, k=k, amp=amp, omega=omega,
                   phase=rng.uniform(0, 2 * np.pi, modes), lat0=lat0, lon0=lon0, start=start)

    def _uniform(self, t_hours: float) -> tuple[float, float, float]:
        """Domain-wide part: ``(u, v)`` of prevailing + synoptic flow, and the diurnal factor."""
        theta = self.theta0 + 2 * np.pi * t_hours / self.period_h
        pulse = self.rotating * (1 + 0.5 * np.sin(2 * np.pi * t_hours / (1.7 * self.period_h) + self.pulse_phase))
        scale = 1 + self.diurnal * np.cos(2 * np.pi * (local_hour(self.start, t_hours) - 14) / 24)
        return self.mean[0] + pulse * np.cos(theta), self.mean[1] + pulse * np.sin(theta), float(scale)

    def _xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local tangent-plane coordinates (m) about the domain centre."""
        return (R_EARTH * np.cos(np.radians(self.lat0)) * np.radians(lon - self.lon0),
                R_EARTH * np.radians(lat - self.lat0))

    def __call__(self, t_hours: float, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(u, v)`` in m/s at time ``t_hours`` after start, at points ``lat``/``lon`` (broadcastable)."""
        lat, lon = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float))
        u0, v0, scale = self._uniform(t_hours)
        u = np.full(lat.shape, u0)
        v = np.full(lat.shape, v0)
        if len(self.amp):
            x, y = self._xy(lat.ravel(), lon.ravel())
            arg = self.k[:, 0, None] * x + self.k[:, 1, None] * y - (self.omega * t_hours - self.phase)[:, None]
            cosa = self.amp[:, None] * np.cos(arg)  # (modes, points)
            u -= (self.k[:, 1, None] * cosa).sum(0).reshape(lat.shape)  # u = −∂ψ/∂y
            v += (self.k[:, 0, None] * cosa).sum(0).reshape(lat.shape)  # v = ∂ψ/∂x
        return u * scale, v * scale

    def grid(self, t_hours: float, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Same as ``self(t, lat[:, None], lon[None, :])`` for 1-D ``lat`` (ny,), ``lon`` (nx,) → (ny, nx),
        but separable: ``cos(a + b) = cos a cos b − sin a sin b`` turns the mode sum into two small
        matrix products instead of a cosine per mode and point.
        """
        u0, v0, scale = self._uniform(t_hours)
        u = np.full((len(lat), len(lon)), u0)
        v = np.full((len(lat), len(lon)), v0)
        if len(self.amp):
            x, _ = self._xy(self.lat0, np.asarray(lon, float))
            _, y = self._xy(np.asarray(lat, float), self.lon0)
            a = self.k[:, 0, None] * x - (self.omega * t_hours - self.phase)[:, None]  # (modes, nx)
            b = self.k[:, 1, None] * y  # (modes, ny)
            ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
            for coef, out, sign in ((self.amp * self.k[:, 1], u, -1.0), (self.amp * self.k[:, 0], v, 1.0)):
                out += sign * ((cb * coef[:, None]).T @ ca - (sb * coef[:, None]).T @ sa)
        return u * scale, v * scale

    def faces(self, t_hours: float, geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
        """Normal velocities on faces: ``u`` (lat, lon+1) on east/west faces, ``v`` (lat+1, lon)."""
        u, _ = self.grid(t_hours, geom.lat, geom.lon_faces)
        _, v = self.grid(t_hours, geom.lat_faces, geom.lon)
        return u, v

    def centres(self, t_hours: float, geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
        """``(u, v)`` at cell centres, each (lat, lon)."""
        return self.grid(t_hours, geom.lat, geom.lon)


def _cell_area_01(lat: np.ndarray) -> np.ndarray:
    """Area (m²) of a 0.1° cell centred at ``lat``."""
    d = np.radians(SOURCE_RES)
    return R_EARTH**2 * d * (np.sin(np.radians(lat + SOURCE_RES / 2)) - np.sin(np.radians(lat - SOURCE_RES / 2)))


def read_population_density(path: Path, year: int) -> tuple[np.ndarray, int, int]:
    """Population density (persons m⁻²) of the 0.1° grid file as a dense array.

    Returns ``(density, j0, i0)`` where ``density[j, i]`` is the cell centred at
    ``lat = (j0 + j + 0.5)·0.1``, ``lon = (i0 + i + 0.5)·0.1``; cells absent from the file are 0.
    """
    col = f"pop_{year}"
    df = read_population_table(path, year)
    df = df.dropna(subset=["lon_center", "lat_center"])
    if df.empty:
        raise CorruptFile(f"{path}: no rows with cell coordinates.")
    j = np.floor(df["lat_center"].to_numpy() / SOURCE_RES).astype(int)
    i = np.floor(df["lon_center"].to_numpy() / SOURCE_RES).astype(int)
    pop = np.nan_to_num(df[col].to_numpy(float), nan=0.0).clip(min=0.0)  # nodata (<0, NaN) → nobody
    j0, i0 = j.min(), i.min()
    dens = np.zeros((j.max() - j0 + 1, i.max() - i0 + 1))
    dens[j - j0, i - i0] = pop / _cell_area_01(df["lat_center"].to_numpy())
    return dens, int(j0), int(i0)


def regrid_density(dens: np.ndarray, j0: int, i0: int, geom: Geometry) -> np.ndarray:
    """Average a 0.1° density field onto ``geom``'s cells by sub-sampling each cell.

    Every target cell is sampled on an ``n × n`` lattice with ≥ 2 points per 0.1° source cell, so
    a coarser target gets the area mean of the source cells it covers and a finer one the value of
    the source cell it lies in. Outside the source extent density is 0. Returns (lat, lon).
    """
    n = max(1, int(np.ceil(2 * geom.res / SOURCE_RES - 1e-9)))
    offs = (np.arange(n) + 0.5) / n - 0.5  # sub-point offsets in cell units
    sub_lat = (geom.lat[:, None] + offs[None, :] * geom.res).ravel()
    sub_lon = (geom.lon[:, None] + offs[None, :] * geom.res).ravel()
    jj = np.floor(sub_lat / SOURCE_RES + 1e-9).astype(int) - j0
    ii = np.floor(sub_lon / SOURCE_RES + 1e-9).astype(int) - i0
    okj = (jj >= 0) & (jj < dens.shape[0])
    oki = (ii >= 0) & (ii < dens.shape[1])
    vals = dens[np.clip(jj, 0, dens.shape[0] - 1)[:, None], np.clip(ii, 0, dens.shape[1] - 1)[None, :]]
    vals = vals * (okj[:, None] & oki[None, :])
    ny, nx = geom.shape
    return vals.reshape(ny, n, nx, n).mean(axis=(1, 3))


def synthetic_cities_density(geom: Geometry) -> np.ndarray:
    """Population density (persons m⁻²) from Gaussian cities at BTH's prefecture seats.

    Each city spreads its population over a Gaussian of σ ≈ 0.08°·√(millions). If no city lies near
    the grid (a bbox elsewhere), one 5-million city is put at the grid centre. Returns (lat, lon).
    """
    lat, lon = geom.lat[:, None], geom.lon[None, :]
    s, n, w, e = geom.lat[0] - 1, geom.lat[-1] + 1, geom.lon[0] - 1, geom.lon[-1] + 1
    cities = [c for c in CITIES if s < c[1] < n and w < c[2] < e]
    if not cities:
        cities = [("centre", float(geom.lat.mean()), float(geom.lon.mean()), 5.0)]
    dens = np.zeros(geom.shape)
    for _, clat, clon, mil in cities:
        sigma = 0.08 * np.sqrt(mil)  # degrees
        sig_m = np.radians(sigma) * R_EARTH
        d2 = (lat - clat) ** 2 + ((lon - clon) * np.cos(np.radians(clat))) ** 2
        dens += mil * 1e6 * np.exp(-0.5 * d2 / sigma**2) / (2 * np.pi * sig_m**2)
    return dens


def population_density(geom: Geometry, layer: str | None, year: int) -> tuple[np.ndarray, str, list[DataWarning]]:
    """Population density (persons m⁻², (lat, lon)) for emissions, its source and any warnings.

    The source is the path of the file read, or ``"synthetic cities"``.

    ``layer``: path of the 0.1° CSV, absolute or relative to ``<data>/geo``; ``None`` means use the
    synthetic cities. A layer that cannot be found, or that does not cover the grid, falls back to
    the synthetic cities with a warning (the simulator must run on a machine without data).
    """
    if layer is None:
        return synthetic_cities_density(geom), "synthetic cities", []
    path = Path(layer)
    if not path.is_absolute():
        try:
            path = geo_dir() / layer
        except DataNotFound:
            path = None
    if path is None or not path.is_file():
        warn = DataWarning(str(layer), None, "population grid not found; emissions from synthetic Gaussian cities")
        return synthetic_cities_density(geom), "synthetic cities", [warn]
    dens, j0, i0 = read_population_density(path, year)
    out = regrid_density(dens, j0, i0, geom)
    if not out.any():
        warn = DataWarning(str(path), None, "population grid does not cover the simulation grid; synthetic cities used")
        return synthetic_cities_density(geom), "synthetic cities", [warn]
    return out, str(path), []
