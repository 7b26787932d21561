"""`python -m core ...` — the AirAtlas command line (thin: commands live in core/cli/)."""

from __future__ import annotations

import importlib

import typer

from core.errors import AirAtlasError

# Each module defines `register(app: typer.Typer) -> None`.
COMMAND_MODULES = (
    "core.cli.data",
    "core.cli.train",
    "core.cli.evaluate",
    "core.cli.calibrate",
    "core.cli.tune",
    "core.cli.bench",
    "core.cli.reanalyze",
    "core.cli.exposure",
    "core.cli.report",
    "core.cli.siting",
)

app = typer.Typer(help="AirAtlas: PM2.5 where no monitor stands.", no_args_is_help=True, add_completion=False)

for _mod in COMMAND_MODULES:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _err:  # a command not written yet must not break the others
        if _err.name != _mod:
            raise


def main() -> None:
    try:
        app()
    except AirAtlasError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
