"""``instructforge score``: score, audit and check every instance of a run (``RUN_DIR``) or of any
instruction-data file (``--data FILE --out DIR``). A thin shell over the Python API
(instructforge.api.evaluate.score); its settings are ScoreConfig (plus ModelConfig for the judge's
backend). The scores follow REFINE-AF's automated feedback (arXiv 2505.06548, section 3.2) and
Self-Instruct's quality audit (Wang et al. 2023, section 3.3). docs/score.md has the details.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..api.evaluate import RUN_DB, SCORES, SUMMARY, ModelConfig, ScoreConfig
from ..core import ui
from ..core.errors import InstructforgeError
from .common import print_llm_summary
from .settings import flag_given, settings_command


def _show(summary: dict[str, Any], label: str) -> None:
    d = summary["distributions"]
    ui.show(
        ui.table(
            f"scores of {summary['scored']} of {summary['items']} instances (Rew: {label})",
            ["score", "mean", "median", "min", "max"],
            [[k, v["mean"], v["median"], v["min"], v["max"]] for k, v in d.items()],
        )
    )
    ui.show(
        ui.table(
            "audit: judge P(yes) >= threshold, vs Self-Instruct's review",
            ["question", "yes", "no", "undecided", "share yes", "paper", "paper figure from"],
            [
                [q, a["yes"], a["no"], a["undecided"], a["share_yes"], a["paper"], a["paper_source"]]
                for q, a in summary["audit"].items()
            ],
        )
    )
    c = summary["checks"]
    ui.show(
        ui.table(
            f"checks: {c['flagged_records']} flagged",
            ["reason", "records"],
            [[k, v] for k, v in c["by_reason"].items()] or [["(none)", 0]],
        )
    )


@click.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="Score this file instead of a run: an Alpaca JSON list, Alpaca JSONL or messages JSONL, or a "
    "dataset name (alpaca: the 52K Alpaca instructions, fetched and cached).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where scores.jsonl, summary.json and config.yaml go (RUN_DIR mode: default RUN_DIR/score). "
    "With --data (required there) it is also the run store holding the records and scores.",
)
@settings_command("score", cfg=ScoreConfig, model=ModelConfig)
def score(run_dir: Path | None, data: Path | None, out: Path | None, cfg: ScoreConfig, model: ModelConfig) -> None:
    """Score every instance of RUN_DIR (or of --data FILE) with automated feedback, a quality
    audit and deterministic checks. Resumable: rerun the same command to continue.

    Example: instructforge score runs/si --judge embedded
    """
    from ..api.evaluate import call_stats
    from ..api.evaluate import score as run_score

    if cfg.judge and flag_given("model") and cfg.judge != model.model:
        raise click.UsageError("give --judge or --model (the same option), not both")
    if (run_dir is None) == (data is None):
        raise click.UsageError("give a RUN_DIR or --data FILE (one of them)")
    if data is not None and out is None:
        raise click.UsageError("--data needs --out DIR")
    res = run_score(run_dir, data=data, out=out, model=model, config=cfg)
    counts = res["counts"]
    print_llm_summary(call_stats(res["calls"]), "judge model calls")
    _show(res["summary"], res["rew_source"])
    out_dir = Path(res["out"])
    click.echo(
        f"{counts['scored']} scored, {counts['stored']} already stored, {counts['failed']} failed "
        f"-> {out_dir / SCORES}, {out_dir / SUMMARY} "
        f"(scores in {Path(res['store']) / RUN_DB})"
    )
    if counts["failed"]:
        raise InstructforgeError(
            f"{counts['failed']} instances were not scored (the judge returned errors); "
            "rerun the same command to retry them"
        )
