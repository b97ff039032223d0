"""``instructforge check``: the validity checks alone (no model) over a data file or a run; a thin
shell over ``instructforge.api.check.check``. Exit 0 whatever it finds; bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core import ui


@click.command("check")
@click.argument("path", metavar="FILE | RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/checks.jsonl: one {index, ok, reasons} line per record, in input order.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def check(path: Path, out_dir: Path | None, as_json: bool) -> None:
    """Flag junk records: degenerate lists, copied demonstrations, labelled statements, trailing
    answers, restated instructions, duplicate outputs, repeated lines, truncation, echoes,
    copied inputs, language mismatch. Reads Alpaca JSON/JSONL, messages JSONL or a run dir.

    Example: instructforge check runs/demo/exports/alpaca.json --out runs/demo/checks
    """
    from ..api.check import CHECKS
    from ..api.check import check as run_check

    s = run_check(path, out=out_dir)
    if as_json:
        click.echo(json.dumps(s))
        return
    rows = [[r, n] for r, n in s["by_reason"].items()]
    ui.show(
        ui.table(
            f"check {path.name}: {s['ok']} ok, {s['flagged']} flagged of {s['records']}", ["reason", "records"], rows
        )
    )
    counts = ", ".join(f"{r} {n}" for r, n in s["by_reason"].items()) or "nothing flagged"
    click.echo(f"{path}: {s['ok']} ok, {s['flagged']} flagged of {s['records']} records ({counts})")
    if out_dir is not None:
        click.echo(f"checks: {out_dir / CHECKS}")
