"""``instructforge generate`` and ``instructforge export``: thin shells over pipeline.py and
export.py (Self-Instruct, Wang et al. 2023; Alpaca's variant with ``--mode alpaca``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..core import ui
from ..data.store import RunStore
from ..models.modelconfig import ModelConfig
from ..selfinstruct.config import GenerateConfig
from ..selfinstruct.export import FORMATS, export_run
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
@settings_command("generate", cfg=GenerateConfig, model=ModelConfig)
def generate(seeds: Path | None, out: Path, from_run: Path | None, cfg: GenerateConfig, model: ModelConfig) -> None:
    """Generate instruction data with Self-Instruct into a resumable run directory.

    Example: instructforge generate --out runs/si --num-instructions 50 --model embedded
    """
    from ..api.run import generate as run_generate

    run = run_generate(seeds, out=out, model=model, config=cfg, from_run=from_run)
    print_llm_summary(run.stats)
    ui.info(f"run dir: {out} (summary.json, run.sqlite, config.yaml)")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
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
    from ..quality.curate import Curation, curation_path, export_curated

    cur = Curation(
        min_score=min_score, score_field=score_field, top_k=top_k, audit=audit_rule, drop_flagged=drop_flagged
    )
    store = RunStore(run_dir, create=False)
    try:
        drop = None
        if drop_contaminated:
            from ..quality.decontaminate import contaminated_keys

            drop = contaminated_keys(store)
        if not cur.active and drop is None:
            n = export_run(store, fmt, out, include_seeds)
        elif not cur.active:
            assert drop is not None
            from ..selfinstruct.export import export_records, run_seed, write_records

            recs = export_records(store, include_seeds)
            kept = [r for r in recs if r["seed"] or f"{r['task_key']}:{r['index']}" not in drop]
            ui.info(f"--drop-contaminated: {len(recs) - len(kept)} records left out")
            n = write_records(kept, fmt, out, run_seed(store))
        else:
            counts = export_curated(store, fmt, out, include_seeds, cur, drop=drop)
            n = counts["records_after"]
            ui.show(
                ui.table(
                    f"curation: {counts['records_before']} -> {n} records",
                    ["rule", "removed"],
                    [[k, v] for k, v in counts["removed"].items()],
                )
            )
            click.echo(
                "removed: "
                + ", ".join(f"{k} {v}" for k, v in counts["removed"].items())
                + f" (counts -> {curation_path(out)})"
            )
    finally:
        store.close()
    click.echo(f"{n} records -> {out}")
