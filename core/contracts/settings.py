"""Settings every layer shares: one home, so copies cannot drift apart."""

from __future__ import annotations

# The primary station dataset (a folder under <data>/raw): the CLI's and the dashboard's default.
DEFAULT_DATASET = "cnemc_bth_2019"

# The comparators every evaluate run scores beside the model, on the same hidden sets and hours:
# the classical interpolators plus IGNNK, the published neural baseline.
EVALUATION_BASELINES = ("idw", "ok", "logok", "knn", "ignnk")

# Hours of history handed to a model that does not declare what it reads (Kriger ``history_hours``):
# the longest any shipped model reads (AQ-Net-style: 14 days) plus a day.
MAX_HISTORY_HOURS = 15 * 24
