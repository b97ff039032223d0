"""``instructforge report PATH --out report.html``: the thin CLI over html.build_report."""

from __future__ import annotations

from pathlib import Path

import click

from .. import ui
from .rundata import ReportConfig

_DEFAULTS = ReportConfig()


@click.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="HTML file to write (default: report.html inside PATH, or next to a JSON file). "
                   "The chart data goes next to it as .json.")
@click.option("--table-rows", default=_DEFAULTS.table_rows, show_default=True, type=click.IntRange(0),
              help="Records sampled into the browsable table.")
@click.option("--parse-limit", default=_DEFAULTS.parse_limit, show_default=True, type=click.IntRange(0),
              help="Instructions parsed for the verb-noun chart (0 = all).")
@click.option("--rouge-limit", default=_DEFAULTS.rouge_limit, show_default=True, type=click.IntRange(0),
              help="Instructions scored against the seeds for the ROUGE-L histogram (0 = all).")
@click.option("--top-verbs", default=_DEFAULTS.top_verbs, show_default=True, type=click.IntRange(1))
@click.option("--top-nouns", default=_DEFAULTS.top_nouns, show_default=True, type=click.IntRange(1))
@click.option("--spacy-model", default=None,
              help="spaCy pipeline for the verb-noun parse (default: the first installed English one).")
@click.option("--sample-seed", default=_DEFAULTS.sample_seed, show_default=True, type=int)
def report(path: Path, out: Path | None, table_rows: int, parse_limit: int, rouge_limit: int,
           top_verbs: int, top_nouns: int, spacy_model: str | None, sample_seed: int) -> None:
    """Self-contained HTML report of a generate RUN_DIR, an evaluation dir (results.json) or a
    compare JSON file. Opens offline (plotly.js and the data are inlined)."""
    from .html import build_report

    cfg = ReportConfig(table_rows=table_rows, parse_limit=parse_limit, rouge_limit=rouge_limit,
                       top_verbs=top_verbs, top_nouns=top_nouns, spacy_model=spacy_model,
                       sample_seed=sample_seed)
    if out is None:
        out = (path if path.is_dir() else path.parent) / "report.html"
    with ui.Timer() as t:
        written = build_report(path, out, cfg)
    size = written.stat().st_size / 1e6
    click.echo(f"report -> {written} ({size:.1f} MB, {t.seconds:.1f} s); chart data -> "
               f"{written.with_suffix('.json')}")
