"""Data sources: each returns one canonical StationSet (see :mod:`core.contracts.stationset`)."""
