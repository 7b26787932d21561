"""Output paths are checked before any long work, so a bad ``--json``/``--out`` never loses a finished run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.errors import InvalidRequest


def check_output_file(path: Path, option: str = "--json") -> Path:
    """Refuse (:class:`InvalidRequest`, exit 2) an output file that could not be written; returns ``path``.

    Creates the missing parent folders (they would be created at the end anyway) and probes
    that a file can be created there.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidRequest(f"{option} {path} is an existing directory; give a file name, "
                             f"e.g. {path / 'report.json'}.")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".write-probe-"):
            pass
        if path.exists():
            with open(path, "ab"):
                pass
    except OSError as err:
        raise InvalidRequest(
            f"{option} {path} cannot be written ({err.strerror or type(err).__name__}: "
            f"{err.filename or parent}); choose a writable location.") from None
    return path
