"""``instructforge generate`` and ``instructforge export``: thin shells over ``api.run`` (pipeline.py,
export.py: Self-Instruct, Wang et al. 2023; Alpaca's variant with ``--mode alpaca``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..api.run import EXPORT_FORMATS, GenerateConfig, ModelConfig
from ..core import ui
from .common import print_llm_summary
from .settings import settings_command


@click.command()
@click.option(
    "--seeds",
    type=click.Path(path_type=Path),
    default=None,
    help="Seed tasks: Self-Instruct JSONL, plain {instruction,input,output} JSONL or an Alpaca JSON list, or the "
    "dataset name self-instruct-seeds (the paper's 175 seed tasks, fetched and cached). Default: the project's "
    "own packaged seeds (offline).",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Run directory (created; resumable)."
)
@click.option(
    "--from-run",
    type=click.Path(path_type=Path),
    default=None,
    help="Instances only: reuse the accepted, classified instructions of this run (REFINE-AF stage 3).",
)
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the expected requests, tokens and cost of the run (with a range) instead of running it: "
    "from the run so far in --out, else from a pilot of --pilot instructions (docs/usage.md).",
)
@click.option(
    "--pilot",
    type=click.IntRange(1, 10000),
    default=10,
    show_default=True,
    help="--estimate: accepted instructions of the pilot run (its answers stay in the call cache).",
)
@settings_command("generate", cfg=GenerateConfig, model=ModelConfig)
def generate(
    seeds: Path | None,
    out: Path,
    from_run: Path | None,
    estimate: bool,
    pilot: int,
    cfg: GenerateConfig,
    model: ModelConfig,
) -> None:
    """Generate instruction data with Self-Instruct into a resumable run directory.

    Example: instructforge generate --out runs/si --num-instructions 50 --model embedded
    """
    from ..api.run import generate as run_generate

    if estimate:
        if from_run is not None:
            from ..core.errors import InputError

            raise InputError("--estimate: not available with --from-run (run it on the source run's settings)")
        from ..api.estimate import estimate_generate

        show_estimate(estimate_generate(seeds, out=out, model=model, config=cfg, pilot=pilot))
        return

    run = run_generate(seeds, out=out, model=model, config=cfg, from_run=from_run)
    print_llm_summary(run.stats)
    ui.info(f"run dir: {out} (summary.json, run.sqlite, config.yaml)")


def show_estimate(res: dict[str, Any]) -> None:
    from ..api.usage import format_cost

    cur = res["currency"]

    def cost(d: dict[str, Any]) -> str:
        return format_cost(d["cost"], cur) if d.get("cost") is not None else "-"

    ui.show(
        ui.table(
            f"estimate for {res['num_instructions']} instructions (from the {res['sample']}: "
            f"{res['sample_accepted']} accepted, acceptance {res['acceptance_rate']:.1%})",
            ["", "requests", "prompt tok", "completion tok", "total tok", "cost"],
            [
                [
                    k,
                    d["requests"],
                    f"{d['prompt_tokens']:,}",
                    f"{d['completion_tokens']:,}",
                    f"{d['total_tokens']:,}",
                    cost(d),
                ]
                for k, d in (("low", res["low"]), ("expected", res["expected"]), ("high", res["high"]))
            ],
        )
    )
    e, lo, hi = res["expected"], res["low"], res["high"]
    line = (
        f"estimate: {e['requests']} requests, {e['total_tokens']:,} tokens "
        f"(range {lo['total_tokens']:,}-{hi['total_tokens']:,})"
    )
    if e["cost"] is not None:
        line += f", {cost(e)} (range {cost(lo)}-{cost(hi)})"
    if "still_to_spend" in res:
        line += f"; still to spend ~{res['still_to_spend']['total_tokens']:,} tokens"
    click.echo(line)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output file (hf: a directory).")
@click.option(
    "--include-seeds", is_flag=True, help="Also export the seed tasks (the paper trains on generated data only)."
)
@click.option(
    "--min-score",
    type=float,
    default=None,
    help="Curate: keep records whose --score-field is >= this (needs `instructforge score` first).",
)
@click.option(
    "--score-field",
    default="reward",
    show_default=True,
    help="Score --min-score and --top-k use: reward | rew | naturalness | coherence | understandability "
    "| p_instruction | p_input | p_output (docs/score.md).",
)
@click.option("--top-k", type=click.IntRange(0), default=None, help="Curate: keep the N highest by --score-field.")
@click.option(
    "--audit",
    "audit_rule",
    type=click.Choice(["valid", "instruction", "input", "output"]),
    default=None,
    help="Curate: valid = the three audit answers are yes; instruction|input|output = that answer is yes.",
)
@click.option("--drop-flagged", is_flag=True, help="Curate: drop records that failed a deterministic check.")
@click.option(
    "--drop-contaminated",
    is_flag=True,
    help="Leave out the records `instructforge decontaminate RUN_DIR` flagged (overlap with a benchmark).",
)
def export(
    run_dir: Path,
    fmt: str,
    out: Path,
    include_seeds: bool,
    min_score: float | None,
    score_field: str,
    top_k: int | None,
    audit_rule: str | None,
    drop_flagged: bool,
    drop_contaminated: bool,
) -> None:
    """Export a run's accepted tasks, one record per instance; with a curation flag, only the
    records whose scores (from `instructforge score`) pass, and the counts of what each rule
    removed go next to the export (NAME.curation.json).

    Example: instructforge export runs/si --format alpaca --out si.json --min-score 0.1 --audit valid
    """
    from ..api.run import export_run_dir

    n, counts, counts_path = export_run_dir(
        run_dir,
        fmt,
        out,
        include_seeds=include_seeds,
        min_score=min_score,
        score_field=score_field,
        top_k=top_k,
        audit=audit_rule,
        drop_flagged=drop_flagged,
        drop_contaminated=drop_contaminated,
    )
    if counts is not None:
        ui.show(
            ui.table(
                f"curation: {counts['records_before']} -> {n} records",
                ["rule", "removed"],
                [[k, v] for k, v in counts["removed"].items()],
            )
        )
        click.echo(
            "removed: " + ", ".join(f"{k} {v}" for k, v in counts["removed"].items()) + f" (counts -> {counts_path})"
        )
    click.echo(f"{n} records -> {out}")
