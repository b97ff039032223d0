"""CLI of the Instruction Induction area: ``induce`` and ``induction evaluate|score``.

Thin shells over ``instructforge.api.induction`` (Honovich et al. 2023; the search follows APE,
Zhou et al. 2023). Settings come from the config dataclasses (``instructforge config show
induce``); only the input/output paths are plain options here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ..api.induction import RESULTS, EvalConfig, InduceCommandConfig, ModelConfig, Stats, task_list
from ..core import ui
from ..core.errors import InputError
from .common import print_llm_summary
from .settings import flag_given, require_own_section, settings_command


@click.command()
@click.option(
    "--demos",
    "demos_path",
    type=click.Path(path_type=Path),
    default=None,
    help="JSONL of {input, output}, or a benchmark task file.",
)
@click.option(
    "--as-seeds",
    "seeds_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Dir of *.jsonl demonstration files: write one Self-Instruct seed task per file.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Seed file to write (with --as-seeds; its settings go to NAME.config.yaml).",
)
@click.option(
    "--candidates",
    "candidates_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Score these instructions (one a line) on the demonstrations instead of proposing any.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"instruction", "score", "candidates": [{"text", "score", "evaluated"}], "calls", ...}.',
)
@settings_command("induce", cfg=InduceCommandConfig, model=ModelConfig)
def induce(
    demos_path: Path | None,
    seeds_dir: Path | None,
    out: Path | None,
    candidates_path: Path | None,
    as_json: bool,
    cfg: InduceCommandConfig,
    model: ModelConfig,
) -> None:
    """Induce the instruction behind input-output demonstrations.

    Example: instructforge induce --demos demos.jsonl --model embedded
    """
    from ..api.induction import induce as api_induce
    from ..api.induction import write_seed_tasks

    config, search = cfg.split()
    if (demos_path is None) == (seeds_dir is None):
        raise InputError("give exactly one of --demos FILE or --as-seeds DIR")
    if seeds_dir is not None:
        if out is None:
            raise InputError("--as-seeds needs --out FILE")
        tasks, stats = write_seed_tasks(seeds_dir, out=out, model=model, config=config)
        ui.show(
            ui.table(
                "seed tasks",
                ["name", "instances", "classification", "instruction"],
                [[t.name, len(t.instances), t.is_classification, t.instruction] for t in tasks],
            )
        )
        click.echo(f"wrote {len(tasks)} seed tasks to {out}")
        print_llm_summary(stats)
        return
    assert demos_path is not None
    if (
        candidates_path is None
        and search.num_candidates <= 1
        and any(flag_given(f"search__{f}") for f in ("method", "score", "rounds"))
    ):
        raise InputError(
            "--search/--score/--rounds choose how candidates are scored: add --num-candidates N (N > 1) "
            "or --candidates FILE"
        )
    res = api_induce(demos_path, model=model, config=config, search=search, candidates=candidates_path)
    if res.note:
        ui.info(res.note)
    text = res.instruction
    if res.score_kind is not None and res.candidates is not None:
        what = "execution accuracy" if res.score_kind == "execution" else "mean log-prob per gold token"
        ui.show(
            ui.table(
                f"candidates ({res.method}, held-out {what}; {res.calls} model calls)",
                ["instruction", "source", "evaluated", "score", "chosen"],
                [
                    [r["text"], r["source"], r["evaluated"], r["score"], "*" if r["chosen"] else ""]
                    for r in res.candidates
                ],
            )
        )
        text = f"{res.instruction}\t(held-out {what} {res.score:.3f} on {res.n_eval})"
    click.echo(json.dumps(res.as_dict(), ensure_ascii=False) if as_json else text)
    if res.stats is not None:
        print_llm_summary(res.stats)


@click.group()
def induction() -> None:
    """Instruction Induction benchmark (Honovich et al. 2023): evaluate and score."""


@induction.command("evaluate")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Benchmark dir (raw/, annotations/, induction_input/), or the dataset name instruction-induction "
    "(fetched and cached).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output dir: results.json, table.md, config.yaml.",
)
@click.option("--tasks", default=None, help="Comma-separated task names (default: every task in DIR/raw/execute).")
@require_own_section
@settings_command("induction evaluate", cfg=EvalConfig, model=ModelConfig)
def evaluate_cmd(data_dir: Path, out_dir: Path, tasks: str | None, cfg: EvalConfig, model: ModelConfig) -> None:
    """Induce, execute and score every task of the benchmark.

    Example: instructforge induction evaluate --data instruction-induction
    --model embedded --out results/induction --tasks sum,antonyms --num-prompts 5 --max-test 20
    """
    from ..api.induction import evaluate_induction, table_rows

    if any(flag_given(f"search__{f}") for f in ("method", "score", "rounds")):
        # --search METHOD (or --score / --rounds): run the search, with those settings
        cfg = dataclasses.replace(cfg, use_search=True)
    results = evaluate_induction(data_dir, out=out_dir, tasks=task_list(tasks), model=model, config=cfg)
    cols, rows = table_rows(results)
    who = "itself" if results["executor_model"] == results["model"] else results["executor_model"]
    ui.show(
        ui.table(
            f"Instruction Induction: {results['model']} (executed by {who})",
            cols,
            [[c.replace("**", "") for c in r] for r in rows],
        )
    )
    o = results["overall"]
    head = f"execution accuracy {100 * o['execution_accuracy']:.1f}%"
    if o["percent_of_human"] is not None:
        head += f" = {o['percent_of_human']:.1f}% of human ({100 * o['human_execution_accuracy']:.1f}%)"
    if o["bertscore"] is not None:
        head += f"; BERTScore {o['bertscore']:.3f}"
    click.echo(f"{head}; wrote {out_dir / RESULTS}")
    s = results["model_stats"]
    print_llm_summary(Stats(**{f.name: s[f.name] for f in dataclasses.fields(Stats) if f.name in s}))


@induction.command("score")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Benchmark dir, or the dataset name instruction-induction.",
)
@click.option("--task", required=True, help="Task name (a file in DATA/raw/execute).")
@click.option(
    "--predictions",
    "pred_path",
    required=True,
    type=click.Path(path_type=Path),
    help='JSONL {"id", "prediction"}; ids are raw/execute example keys ("7"; cause_and_effect: "7:ab", "7:ba").',
)
@click.option("--task-table", default=None, type=click.Path(path_type=Path), help="Extra task_table.json rows.")
@click.option("--json", "as_json", is_flag=True, help='Print exactly one JSON object {"task", "n", "accuracy"}.')
def score_cmd(data_dir: Path, task: str, pred_path: Path, task_table: Path | None, as_json: bool) -> None:
    """Score given predictions with the task's execution-accuracy metric (no model).

    Example: instructforge induction score --data instruction-induction --task sum --predictions preds.jsonl --json
    """
    from ..api.induction import score_induction

    r = score_induction(data_dir, task=task, predictions=pred_path, task_table=task_table)
    if as_json:
        click.echo(json.dumps({"task": task, "n": r["n"], "accuracy": r["accuracy"]}))
        return
    ui.show(
        ui.table(
            f"{task} ({r['metric']})",
            ["n", "correct", "accuracy", "missing ids"],
            [[r["n"], round(r["correct"], 4), round(r["accuracy"], 4), r["missing"]]],
        )
    )
    click.echo(f"{task}: accuracy {r['accuracy']:.4f} on {r['n']} predictions ({r['metric']})")
