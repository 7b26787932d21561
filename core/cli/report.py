"""`python -m core report`: regenerate the README results section from assets/metrics/*.json."""

from __future__ import annotations

from pathlib import Path

import typer

from core.paths import METRICS_DIR, REPO_ROOT


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        readme: Path = typer.Option(REPO_ROOT / "README.md", "--readme", help="README to update (between markers)."),
        metrics: Path = typer.Option(METRICS_DIR, "--metrics", help="Folder of evaluation / bench / ablation JSON."),
        stdout: bool = typer.Option(False, "--stdout", help="Print the section instead of writing the README."),
    ) -> None:
        """Rebuild the results tables (masking curve, holdout, sparse-30km, seasons, ablations, speed)."""
        from core.evaluation.report import render, update_readme

        body = render(metrics)
        if stdout:
            typer.echo(body)
            return
        changed = update_readme(readme, body)
        typer.echo(f"{readme}: results section {'updated' if changed else 'already up to date'}.")
