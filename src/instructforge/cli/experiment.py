"""``instructforge experiment FILE``: run a declared chain of stages (experiment.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..core import ui


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output dir (default: the file's `out`, else runs/<file name>).",
)
@click.option("--only", default=None, help="Comma-separated stage names to run (the others are left as they are).")
@click.option("--dry-run", is_flag=True, help="Check the whole file and list each stage as done or to run.")
@click.option(
    "--max-total-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Stop before the experiment's prompt + completion tokens (every stage, all its runs so far) "
    "would pass this; exit 3, rerun with a higher cap to continue.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop before the experiment's cost (in --currency, every stage, all its runs so far) would pass "
    "this; needs a price; exit 3, rerun with a higher budget to continue.",
)
@click.option(
    "--price",
    default=None,
    help="Price per million tokens as IN,OUT for every stage's model (overrides the file's model settings).",
)
@click.option("--currency", default=None, help="Currency of --price, --budget and the ledgers' costs (default USD).")
def experiment(
    file: Path,
    out: Path | None,
    only: str | None,
    dry_run: bool,
    max_total_tokens: int | None,
    budget: float | None,
    price: str | None,
    currency: str | None,
) -> None:
    """Run the stages of an experiment file in order; a finished stage is skipped, an
    interrupted one resumes, so running the same file again continues where it stopped.

    --max-total-tokens / --budget cap the whole experiment: each stage that calls a model gets
    what the earlier stages' ledgers leave (instructforge usage OUT); after a stop (exit 3) the
    same command with a higher cap (or none) continues.

    Example: instructforge experiment examples/refine_af_small/experiment.yaml
    """
    from ..api.train import ModelConfig
    from ..experiment import EXPERIMENT, load, run, stage_done

    caps: dict[str, Any] = {
        "max_total_tokens": max_total_tokens,
        "budget": budget,
        "price": price,
        "currency": currency,
    }
    ModelConfig(**{k: v for k, v in caps.items() if v is not None})  # a bad price or currency: exit 2 now

    exp = load(file, out)
    names = [s.name for s in exp.stages]
    chosen = [n.strip() for n in only.split(",") if n.strip()] if only else None
    bad = sorted(set(chosen or ()) - set(names))
    if bad:
        from ..core.errors import InputError

        raise InputError(f"{file}: no stage {bad[0]!r} (stages: {', '.join(names)})")
    if dry_run:
        ui.show(
            ui.table(
                f"experiment {file} -> {exp.out}",
                ["stage", "command", "status"],
                [[s.name, s.command, "done" if stage_done(s, exp.out) else "to run"] for s in exp.stages],
            )
        )
        return
    rows = run(exp, only=chosen, caps=caps)
    ui.show(
        ui.table(
            f"experiment {file} -> {exp.out}",
            ["stage", "command", "status", "seconds", "output"],
            [[r["stage"], r["command"], r["status"], r.get("seconds", ""), r.get("output", "")] for r in rows],
        )
    )
    click.echo(str(exp.out / EXPERIMENT))
