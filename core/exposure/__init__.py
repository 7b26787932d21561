"""Exposure of the 2020 census units to a PM2.5 surface: people above thresholds and who breathes it.

- :mod:`core.exposure.units`: surface → per-unit period means, thresholds, the summary facts;
- :mod:`core.exposure.weights`: exact grid-cell × unit overlaps, population-weighted inside units;
- :mod:`core.exposure.census`: the NBS 2020 census units and their vulnerability indicators;
- :mod:`core.exposure.disparity`: quintile ratio and concentration index with bootstrap intervals;
- :mod:`core.exposure.run`: one run end to end (model → surface → units), shared by the CLI and the dashboard.
"""

from core.exposure.census import (
    BTH_POPULATION_2020,
    CITATIONS,
    DEFINITIONS,
    VULNERABILITY,
    join_census,
    load_census_units,
    vulnerability_indicators,
)
from core.exposure.disparity import check_n_boot, concentration_index, disparity, fractional_rank, quintile_ratio
from core.exposure.run import (
    DEFAULT_DATASET,
    POPULATION_WEIGHTING,
    infer_surface,
    model_surface,
    run_exposure,
    surface_exposure,
)
from core.exposure.units import (
    METHOD,
    THRESHOLDS,
    ExposureResult,
    ExposureWarning,
    Threshold,
    pop_weighted_mean,
    population_above,
    summarize,
    unit_exposure,
)
from core.exposure.weights import CellWeights, cell_weights

__all__ = [
    "BTH_POPULATION_2020",
    "CITATIONS",
    "DEFAULT_DATASET",
    "DEFINITIONS",
    "METHOD",
    "POPULATION_WEIGHTING",
    "THRESHOLDS",
    "VULNERABILITY",
    "CellWeights",
    "ExposureResult",
    "ExposureWarning",
    "Threshold",
    "cell_weights",
    "check_n_boot",
    "concentration_index",
    "disparity",
    "fractional_rank",
    "infer_surface",
    "join_census",
    "load_census_units",
    "model_surface",
    "pop_weighted_mean",
    "population_above",
    "quintile_ratio",
    "run_exposure",
    "summarize",
    "surface_exposure",
    "unit_exposure",
    "vulnerability_indicators",
]
