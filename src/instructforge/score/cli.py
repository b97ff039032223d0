"""``instructforge score``: score, audit and check every instance of a run (``RUN_DIR``) or of any
instruction-data file (``--data FILE --out DIR``). A thin shell over scoring.py and summary.py;
the scores follow REFINE-AF's automated feedback (arXiv 2505.06548, section 3.2) and
Self-Instruct's quality audit (Wang et al. 2023, section 3.3). docs/score.md has the details.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import click
import yaml

from .. import ui
from ..cli_common import (
    llm_from_options,
    model_options,
    pop_model_kwargs,
    print_llm_summary,
    public_model_config,
)
from ..errors import InputError, InstructforgeError
from ..jsonl import write_json
from ..store import RunStore, atomic_write
from .config import ScoreConfig, load_score_config
from .scoring import Item, build_scorer, current_scores, score_store, store_items
from .summary import row, score_section


def _read_run_items(run_dir: Path) -> list[Item]:
    try:
        with RunStore(run_dir, create=False) as st:
            items = store_items(st)
    except sqlite3.DatabaseError as e:
        raise InputError.at(run_dir / "run.sqlite", None, f"not a readable run store ({e})") from None
    if not items:
        raise InputError(f"{run_dir / 'run.sqlite'}: the run has no accepted instances to score yet "
                         "(run `instructforge generate` first)")
    return items


def _outputs(out: Path, pairs: list[tuple[Item, Any]], items: int, cfg: ScoreConfig,
             lines: list[int] | None) -> dict[str, Any]:
    """Write scores.jsonl and summary.json into ``out``; returns the summary."""
    def extra(it: Item) -> dict[str, Any]:
        if lines is None:
            return {}
        n = int(it.task_key[1:])  # `score --data` task keys are d<record number>
        return {"record": n, "line": lines[n - 1]}

    atomic_write(out / "scores.jsonl", "".join(json.dumps(row(i, r, extra(i)), ensure_ascii=False) + "\n"
                                               for i, r in pairs))
    summary = score_section(pairs, items, cfg.report_records)
    write_json(out / "summary.json", summary)
    return summary


def _show(summary: dict[str, Any], label: str) -> None:
    d = summary["distributions"]
    ui.show(ui.table(f"scores of {summary['scored']} of {summary['items']} instances (Rew: {label})",
                     ["score", "mean", "median", "min", "max"],
                     [[k, v["mean"], v["median"], v["min"], v["max"]] for k, v in d.items()]))
    ui.show(ui.table("audit: judge P(yes) >= threshold, vs Self-Instruct's review",
                     ["question", "yes", "no", "undecided", "share yes", "paper", "paper figure from"],
                     [[q, a["yes"], a["no"], a["undecided"], a["share_yes"], a["paper"], a["paper_source"]]
                      for q, a in summary["audit"].items()]))
    c = summary["checks"]
    ui.show(ui.table(f"checks: {c['flagged_records']} flagged", ["reason", "records"],
                     [[k, v] for k, v in c["by_reason"].items()] or [["(none)", 0]]))


@click.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Score this file instead of a run: an Alpaca JSON list, Alpaca JSONL or messages JSONL.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where scores.jsonl, summary.json and config.yaml go (RUN_DIR mode: default RUN_DIR/score). "
                   "With --data (required there) it is also the run store holding the records and scores.")
@click.option("--judge", default=None,
              help="Judge model: embedded | hf:DIR | openai:MODEL | vllm:DIR | scripted:FILE [embedded]. "
                   "--model is a synonym.")
@click.option("--reward-model", default=None,
              help="hf:DIR of a sequence-classification reward model for Rew (paper: oasst-rm-pythia-1.4b); "
                   "without it the judge's P(yes) to an overall-quality question stands in.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="An audit answer is yes when P(yes) >= this [0.5].")
@click.option("--chunk-size", type=click.IntRange(1), default=None,
              help="Instances scored and committed together [32].")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="YAML of ScoreConfig fields (see docs/score.md).")
@model_options
def score(run_dir: Path | None, data: Path | None, out: Path | None, judge: str | None, reward_model: str | None,
          threshold: float | None, chunk_size: int | None, config_file: Path | None, **kwargs: Any) -> None:
    """Score every instance of RUN_DIR (or of --data FILE) with automated feedback, a quality
    audit and deterministic checks. Resumable: rerun the same command to continue.

    Example: instructforge score runs/si --judge embedded
    """
    from ..backends import parse_spec
    from ..refine.feedback import reward_model_dir
    from .data import SOURCE_META, check_out_dir, import_data, read_data

    m = pop_model_kwargs(kwargs)
    ctx = click.get_current_context()
    if judge and ctx.get_parameter_source("model") == click.core.ParameterSource.COMMANDLINE and judge != m["model"]:
        raise click.UsageError("give --judge or --model (the same option), not both")
    m["model"] = judge = judge or m["model"]
    parse_spec(judge)
    if (run_dir is None) == (data is None):
        raise click.UsageError("give a RUN_DIR or --data FILE (one of them)")
    if data is not None and out is None:
        raise click.UsageError("--data needs --out DIR")
    # Everything is read and checked before anything is written.
    cfg = load_score_config(config_file, threshold=threshold, chunk_size=chunk_size)
    rm_dir = reward_model_dir(reward_model) if reward_model else None
    if data is not None:
        fmt, recs = read_data(data)
        assert out is not None
        check_out_dir(out, data)
        store_dir = out
    else:
        assert run_dir is not None
        _read_run_items(run_dir)
        store_dir, out = run_dir, out or run_dir / "score"
    llm = llm_from_options(m)
    try:
        scorer, label = build_scorer(llm, rm_dir, cfg)
        store = RunStore(store_dir)
        try:
            if data is not None:
                import_data(store, data, fmt, recs)
            lines = (store.get_meta(SOURCE_META) or {}).get("lines")
            items = store_items(store)
            atomic_write(out / "config.yaml", yaml.safe_dump(
                {"command": "score", "run_dir": str(run_dir) if run_dir else None,
                 "data": str(data) if data else None, "judge": public_model_config(m),
                 "judge_id": llm.model_id, "reward_model": reward_model, "rew_source": label,
                 "fingerprint": scorer.fingerprint, "score": cfg.to_dict()}, sort_keys=False, allow_unicode=True))
            ui.info(f"score: {len(items)} instances; judge {judge}; Rew = {label}"
                    + ("" if rm_dir else " (the judge stands in for the reward model: no --reward-model)"))
            counts = score_store(store, scorer, items,
                                 on_chunk=lambda done, total: ui.info(f"scored {done}/{total}"))
            store.set_meta("score", {"judge": judge, "judge_id": llm.model_id, "reward_model": reward_model,
                                     "rew_source": label, "fingerprint": scorer.fingerprint,
                                     "threshold": cfg.threshold, **counts})
            summary = _outputs(out, current_scores(store, items), len(items), cfg, lines)
        finally:
            store.close()
    finally:
        llm.close()
    print_llm_summary(llm, "judge model calls")
    _show(summary, label)
    click.echo(f"{counts['scored']} scored, {counts['stored']} already stored, {counts['failed']} failed "
               f"-> {out / 'scores.jsonl'}, {out / 'summary.json'} (scores in {store_dir / 'run.sqlite'})")
    if counts["failed"]:
        raise InstructforgeError(f"{counts['failed']} instances were not scored (the judge returned errors); "
                                 "rerun the same command to retry them")
