"""`python -m core ...` — the AirAtlas command line (thin: commands live in core/cli/)."""

from __future__ import annotations

import typer

from core.cli import bench, calibrate, data, evaluate, exposure, reanalyze, report, siting, train, tune
from core.errors import AirAtlasError

# Each module defines `register(app: typer.Typer) -> None`; the order is the order of `--help`.
COMMAND_MODULES = (data, train, evaluate, calibrate, tune, bench, reanalyze, exposure, report, siting)

app = typer.Typer(help="AirAtlas: PM2.5 where no monitor stands.", no_args_is_help=True, add_completion=False)

for _mod in COMMAND_MODULES:
    _mod.register(app)


def main() -> None:
    try:
        app()
    except AirAtlasError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
