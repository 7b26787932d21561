"""JSON keys that are a public contract (scripts and checks read them): written down once, here, on purpose
apart from the code that writes them, so a rename in core fails the tests that use these."""

from __future__ import annotations

# Top-level keys of the evaluation report (`python -m core evaluate --json`, core.evaluation.runner.evaluate).
REPORT_KEYS = frozenset({"model", "dataset", "protocol", "wind", "test_stations", "times", "runs", "metrics",
                         "by_season", "baselines"})
