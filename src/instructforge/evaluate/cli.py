"""``instructforge evaluate superni|user-oriented`` and ``instructforge compare``: thin shells over
evaluate/superni.py, evaluate/user_oriented.py and evaluate/compare.py."""

from __future__ import annotations

import json
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
from ..jsonl import write_json
from ..store import atomic_write


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _write_config(out: Path, cfg: dict[str, Any]) -> None:
    atomic_write(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


@click.group()
def evaluate() -> None:
    """Evaluate a model: SuperNI (ROUGE-L, exact match) or user-oriented instructions (judge A-D)."""


@evaluate.command()
@click.option("--tasks", "tasks_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory of SuperNI task files (task*.json, official format).")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Score these predictions (JSONL {id, prediction}) instead of calling a model.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--max-instances", default=100, show_default=True, type=click.IntRange(1),
              help="First N instances of each task (the official test split uses 100).")
@click.option("--num-pos-examples", default=0, show_default=True, type=click.IntRange(0),
              help="Positive examples shown in the prompt (0 = zero-shot, the papers' setting).")
@click.option("--max-tokens", default=64, show_default=True, type=click.IntRange(1), help="Max new tokens per answer.")
@click.option("--prompt-format", type=click.Choice(["chat", "raw"]), default="chat", show_default=True,
              help="chat: prompt as one user message; raw: plain completion prompt (base models).")
@click.option("--only", default="", help="Comma-separated task names to evaluate (default: all).")
@click.option("--stop", multiple=True, help="Stop string (repeatable; \\n and \\t are read as newline and tab; default none, as the official setting).")
@model_options
def superni(tasks_dir: Path, predictions: Path | None, out: Path, max_instances: int, num_pos_examples: int,
            max_tokens: int, prompt_format: str, only: str, stop: tuple[str, ...], **kwargs: Any) -> None:
    """SuperNI: ROUGE-L and exact match per task, per category and overall (official scoring).

    Example: instructforge evaluate superni --tasks ../shared/data/superni --model embedded --out eval/base
    """
    from .superni import SuperNIConfig, load_predictions, load_tasks, predict, score

    m = pop_model_kwargs(kwargs)
    ctx = click.get_current_context()
    if predictions is not None and ctx.get_parameter_source("model") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("give --model or --predictions, not both")
    names = tuple(n.strip() for n in only.split(",") if n.strip())
    cfg = SuperNIConfig(max_instances=max_instances, num_pos_examples=num_pos_examples, max_tokens=max_tokens,
                        prompt_format=prompt_format, stop=tuple(x.replace("\\n", "\n").replace("\\t", "\t") for x in stop),
                        only=names)
    tasks = load_tasks(tasks_dir, cfg.max_instances, cfg.only)
    if predictions is not None:
        preds = load_predictions(predictions, tasks)
        model_name = f"predictions:{predictions}"
        llm = None
    else:
        llm = llm_from_options(m)
        try:
            with ui.Timer() as timer:
                preds = predict(llm, tasks, cfg)
        finally:
            llm.close()
        model_name = m["model"]
    results, rows = score(tasks, preds, model_name)
    if llm is not None:
        results["model_id"] = llm.model_id
        results["generation"] = {"seconds": round(timer.seconds, 2), **llm.stats.as_dict()}
    if results["missing_predictions"]:
        ui.info(f"warning: {results['missing_predictions']} instances have no prediction; scored as empty "
                "strings (as the official script does)")
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, {"command": "evaluate superni", "tasks": str(tasks_dir),
                        "predictions": str(predictions) if predictions else None,
                        "superni": cfg.to_dict(), "model": public_model_config(m) if llm else None})
    atomic_write(out / "predictions.jsonl", _jsonl(rows))
    write_json(out / "results.json", results)
    if llm is not None:
        print_llm_summary(llm)
    ui.show(ui.table("SuperNI per task", ["task", "category", "n", "ROUGE-L", "EM"],
                     [[t, r["category"], r["n"], r["rougeL"], r["exact_match"]] for t, r in results["tasks"].items()]))
    ui.show(ui.table("SuperNI per category (micro over instances)", ["category", "tasks", "ROUGE-L", "EM"],
                     [[c, r["n_tasks"], r["rougeL"], r["exact_match"]] for c, r in results["categories"].items()]))
    o = results["overall"]
    click.echo(f"overall ROUGE-L {o['rougeL']:.2f}  exact match {o['exact_match']:.2f}  "
               f"({results['n_tasks']} tasks, {results['n_instances']} instances) -> {out / 'results.json'}")


@evaluate.command("user-oriented")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="user_oriented_instructions.jsonl (id, instruction, instances[{input, output}]).")
@click.option("--judge", required=True, help="Judge model spec (embedded | hf:DIR | openai:MODEL | ...).")
@click.option("--judge-base-url", default=None, help="OpenAI-compatible server of the judge (default: --base-url).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--max-instructions", default=None, type=click.IntRange(1), help="Only the first N instructions.")
@click.option("--max-tokens", default=512, show_default=True, type=click.IntRange(1), help="Max tokens per answer.")
@click.option("--judge-method", type=click.Choice(["auto", "logprobs", "text"]), default="auto", show_default=True,
              help="auto: first-token P(A..D) when the judge backend returns logprobs, else parse the text.")
@model_options
def user_oriented(data: Path, judge: str, judge_base_url: str | None, out: Path, max_instructions: int | None,
                  max_tokens: int, judge_method: str, **kwargs: Any) -> None:
    """Answer the user-oriented instructions and have a judge model rate them A/B/C/D.

    The judge stands in for the paper's human raters.
    Example: instructforge evaluate user-oriented --data ../shared/data/self-instruct/user_oriented_instructions.jsonl
    --model embedded --judge embedded --out eval/uo --max-instructions 10
    """
    from ..backends import parse_spec
    from .user_oriented import UserOrientedConfig, answer, judge_answers, load_items, summarise

    m = pop_model_kwargs(kwargs)
    parse_spec(judge)
    cfg = UserOrientedConfig(max_tokens=max_tokens, max_instructions=max_instructions, judge_method=judge_method)
    items = load_items(data, cfg.max_instructions)
    llm = llm_from_options(m)
    try:
        answers = answer(llm, items, cfg)
    finally:
        llm.close()
    jm = dict(m, model=judge, base_url=judge_base_url or m.get("base_url"))
    jllm = llm_from_options(jm)
    try:
        ratings = judge_answers(jllm, items, [a.text for a in answers], cfg)
    finally:
        jllm.close()
    results, rows = summarise(items, answers, ratings, m["model"], judge)
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, {"command": "evaluate user-oriented", "data": str(data), "user_oriented": cfg.to_dict(),
                        "model": public_model_config(m), "judge": public_model_config(jm)})
    atomic_write(out / "ratings.jsonl", _jsonl(rows))
    write_json(out / "results.json", results)
    print_llm_summary(llm, "answer model calls")
    print_llm_summary(jllm, "judge model calls")
    n = results["n"] or 1
    ui.show(ui.table(f"User-oriented ratings (judge: {judge}; substitute for human raters)",
                     ["rating", "count", "share"],
                     [[k, v, f"{100 * v / n:.1f}%"] for k, v in results["distribution"].items()]
                     + [["unparsed", results["unparsed"], f"{100 * results['unparsed'] / n:.1f}%"]]))
    d = results["distribution"]
    click.echo(f"A {d['A']}  B {d['B']}  C {d['C']}  D {d['D']}  (n={results['n']}) -> {out / 'results.json'}")


@click.command()
@click.argument("eval_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("eval_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON output (default: EVAL_B/compare_vs_<name of EVAL_A>.json).")
@click.option("--metric", default=None, help="Per-task metric (default: rougeL for SuperNI, execution_accuracy for induction).")
@click.option("--tie-threshold", default=0.0, show_default=True, type=click.FloatRange(0),
              help="|B - A| <= this counts as a tie.")
@click.option("--bootstrap", default=10000, show_default=True, type=click.IntRange(0),
              help="Paired bootstrap resamples of the tasks (0 = no intervals).")
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap RNG seed.")
def compare(eval_a: Path, eval_b: Path, out: Path | None, metric: str | None, tie_threshold: float,
            bootstrap: int, seed: int) -> None:
    """Per-task comparison of two evaluation dirs: deltas B - A, win/tie/loss share of B, bootstrap CIs.

    Example: instructforge compare eval/self-instruct eval/refine-af
    """
    from .compare import CompareConfig
    from .compare import compare as run_compare

    cfg = CompareConfig(metric=metric, tie_threshold=tie_threshold, bootstrap=bootstrap, seed=seed)
    res = run_compare(eval_a, eval_b, cfg)
    target = out or eval_b / f"compare_vs_{eval_a.resolve().name}.json"
    write_json(target, res)
    ui.show(ui.table(f"{res['metric']} per task: B={eval_b} vs A={eval_a}", ["task", "A", "B", "B - A", "outcome"],
                     [[t, r["a"], r["b"], r["delta"], r["outcome"]] for t, r in res["tasks"].items()]))
    ci = res["ci95"]
    ci_txt = (f"  95% CI mean delta [{ci['mean_delta'][0]:.2f}, {ci['mean_delta'][1]:.2f}], "
              f"win [{100 * ci['win'][0]:.1f}%, {100 * ci['win'][1]:.1f}%]") if ci else ""
    click.echo(f"B wins {100 * res['win']:.1f}%  ties {100 * res['tie']:.1f}%  loses {100 * res['loss']:.1f}% "
               f"of {res['n_tasks']} tasks; mean delta {res['mean_delta']:+.2f}{ci_txt} -> {target}")


__all__ = ["compare", "evaluate"]
