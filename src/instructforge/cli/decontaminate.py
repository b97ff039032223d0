"""``instructforge decontaminate``: flag generated records that overlap a benchmark (a shared word
13-gram, or ROUGE-L >= 0.7 with a benchmark instruction); a thin shell over
``instructforge.api.data.decontaminate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..api.data import CONTAMINATION, DECONTAMINATE_DIR, DecontaminateConfig
from ..core import ui
from .settings import settings_command


@click.command()
@click.argument("args", nargs=-1, metavar="[RUN_DIR]")
@click.option(
    "--data",
    default=None,
    help="Check this file instead of a run (Alpaca JSON/JSONL, messages JSONL) or a dataset name.",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    required=True,
    metavar="NAME_OR_PATH",
    help="A benchmark: a dataset name (superni-test, user-oriented, instruction-induction, ...) or the "
    "file/folder such a name holds. Repeat it, or give several after one --against.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where contamination.jsonl, summary.json and config.yaml go (default RUN_DIR/decontaminate; required with --data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON {records, flagged, by_benchmark}.")
@settings_command("decontaminate", cfg=DecontaminateConfig)
def decontaminate(
    args: tuple[str, ...], data: str | None, against: tuple[str, ...], out: Path | None, as_json: bool,
    cfg: DecontaminateConfig,
) -> None:  # fmt: skip
    """Flag the records of RUN_DIR (or of --data FILE) whose instruction, input or output overlaps a
    benchmark: a shared word 13-gram, or ROUGE-L >= 0.7 of the instruction with a benchmark's
    instructions or definitions. `export --drop-contaminated` then leaves them out.
    --against takes several benchmarks (--against A B, or --against A --against B).

    Example: instructforge decontaminate runs/si --against superni-test user-oriented
    """
    from ..api.data import decontaminate as run

    # `--against A B C`: click options take one value, so the words after it arrive as arguments;
    # the first argument is RUN_DIR unless --data is given
    run_dir = Path(args[0]) if args and data is None else None
    more_against = args[1:] if data is None else args
    if (run_dir is None) == (data is None):
        raise click.UsageError("give a RUN_DIR or --data FILE (one of them)")
    if data is not None and out is None:
        raise click.UsageError("--data needs --out DIR")
    s = run(run_dir, data=data, against=[*against, *more_against], out=out, config=cfg)
    if as_json:
        click.echo(json.dumps({k: s[k] for k in ("records", "flagged", "by_benchmark")}))
        return
    ui.show(
        ui.table(
            f"decontaminate: {s['flagged']} of {s['records']} records flagged",
            ["benchmark", "flagged"],
            [[k, v] for k, v in s["by_benchmark"].items()],
        )
    )
    target = out or Path(str(run_dir)) / DECONTAMINATE_DIR
    click.echo(f"{s['flagged']} of {s['records']} records flagged -> {target / CONTAMINATION}")
