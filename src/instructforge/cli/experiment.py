"""``instructforge experiment FILE``: run a declared chain of stages (experiment.py)."""

from __future__ import annotations

from pathlib import Path

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
def experiment(file: Path, out: Path | None, only: str | None, dry_run: bool) -> None:
    """Run the stages of an experiment file in order; a finished stage is skipped, an
    interrupted one resumes, so running the same file again continues where it stopped.

    Example: instructforge experiment examples/refine_af_small/experiment.yaml
    """
    from ..experiment import load, run, stage_done

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
    rows = run(exp, only=chosen)
    ui.show(
        ui.table(
            f"experiment {file} -> {exp.out}",
            ["stage", "command", "status", "seconds", "output"],
            [[r["stage"], r["command"], r["status"], r.get("seconds", ""), r.get("output", "")] for r in rows],
        )
    )
    click.echo(str(exp.out / "experiment.json"))
