"""``instructforge report PATH --out report.html``: a thin shell over the Python API
(instructforge.api.evaluate.report); its settings are ReportConfig."""

from __future__ import annotations

from pathlib import Path

import click

from ..api.evaluate import ReportConfig
from ..core import ui
from .settings import settings_command


@click.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="HTML file to write (default: report.html inside PATH, or next to a JSON file). "
    "The chart data goes next to it as .json.",
)
@settings_command("report", cfg=ReportConfig)
def report(path: Path, out: Path | None, cfg: ReportConfig) -> None:
    """Self-contained HTML report of a generate RUN_DIR, an evaluation dir (results.json) or a
    compare JSON file. Opens offline (plotly.js and the data are inlined)."""
    from ..api.evaluate import report as build

    with ui.Timer() as t:
        written = build(path, out=out, config=cfg)
    size = written.stat().st_size / 1e6
    click.echo(f"report -> {written} ({size:.1f} MB, {t.seconds:.1f} s); chart data -> {written.with_suffix('.json')}")
