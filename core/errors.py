"""Typed errors that carry a message a user can act on.

The CLI and the dashboard catch :class:`AirAtlasError` and show ``str(err)``
instead of a traceback, so every message names what went wrong, where
(file, line) and what to do about it.
"""

from __future__ import annotations


class AirAtlasError(Exception):
    """Base class: ``str(err)`` is shown to the user as is."""


class DataNotFound(AirAtlasError):
    """A data folder or file the user asked for does not exist."""


class CorruptFile(AirAtlasError):
    """A file exists but cannot be parsed; the message names file and line."""


class UnusableData(AirAtlasError):
    """Data parsed, but there is nothing usable in it (e.g. no station with coordinates)."""


class CheckpointMismatch(AirAtlasError):
    """A checkpoint does not match the code or the data it is asked to run on."""


class InvalidRequest(AirAtlasError):
    """A request cannot be served as asked (e.g. every station masked, a date without data)."""


class FetchError(AirAtlasError):
    """A download failed after its retries, or a file failed its checksum."""
