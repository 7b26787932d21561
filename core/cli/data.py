"""`python -m core data ...`: inspect and fetch station data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from core.contracts.stationset import load_warnings, summary
from core.data.load import load_stationset


def register(app: typer.Typer) -> None:
    data = typer.Typer(help="Inspect and fetch station data.", no_args_is_help=True)

    @data.command("info")
    def info(
        dataset: Optional[str] = typer.Option(None, help="Folder name under <data dir>/raw/ (e.g. cnemc_bth_2019)."),
        path: Optional[Path] = typer.Option(None, help="Any folder in a supported layout."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        show_warnings: int = typer.Option(0, "--show-warnings", help="Also print the first N data warnings."),
    ) -> None:
        """Summarise a dataset: stations, active stations, period, missing rate, wind, warnings."""
        if (dataset is None) == (path is None):
            raise typer.BadParameter("give exactly one of --dataset or --path")
        t0 = time.perf_counter()
        ds = load_stationset(dataset=dataset, path=path)
        facts = summary(ds) | {"load_seconds": round(time.perf_counter() - t0, 3)}
        if as_json:
            typer.echo(json.dumps(facts, ensure_ascii=False))
        else:
            for k, v in facts.items():
                typer.echo(f"{k:>18}: {v}")
        for w in load_warnings(ds)[:show_warnings]:
            typer.echo(f"warning: {w}", err=True)

    @data.command("fetch")
    def fetch(
        start: str = typer.Option("2019-01-01", help="First day (YYYY-MM-DD)."),
        end: str = typer.Option("2019-12-31", help="Last day (YYYY-MM-DD)."),
        out: Path = typer.Option(Path("data/raw/cnemc_fetched"), help="Destination folder."),
        base_url: Optional[str] = typer.Option(
            None, help="Archive base URL (default: $AIRATLAS_ARCHIVE_URL or the public archive)."
        ),
        retries: int = typer.Option(3, help="Attempts per file."),
        force: bool = typer.Option(
            False, "--force", help="Download every file again (an old copy is replaced only by a complete one)."),
    ) -> None:
        """Download the CNEMC daily archive and station list, verifying sha256 and resuming partial files."""
        from core.data.fetch import fetch_archive

        report = fetch_archive(start=start, end=end, out=out, base_url=base_url, retries=retries, force=force)
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))

    app.add_typer(data, name="data")
