"""Contracts: the types every layer above agrees on and nothing else.

StationSet (the station data layout), the Kriger protocol with its Window and InferenceResult,
the output grid, the model spec and registry, and the shared settings, seasons, period and
provenance helpers. Modules here import only each other and the foundation modules
(``core.errors``, ``core.paths``, ``core.geo``, ``core.hashing``, ``core.io``).
See docs/architecture.md.
"""
