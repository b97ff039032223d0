"""``instructforge evaluate superni|user-oriented`` and ``instructforge compare``: thin shells over
the Python API (instructforge.api.evaluate); their settings are SuperNIConfig, UserOrientedConfig
and CompareConfig (plus ModelConfig for the model)."""

from __future__ import annotations

from pathlib import Path

import click

from ..api.evaluate import RESULTS, CompareConfig, ModelConfig, SuperNIConfig, UserOrientedConfig, default_out
from ..core import ui
from .common import print_llm_summary
from .settings import flag_given, settings_command


@click.group()
def evaluate() -> None:
    """Evaluate a model: SuperNI (ROUGE-L, exact match) or user-oriented instructions (judge A-D)."""


@evaluate.command()
@click.option(
    "--tasks",
    "tasks_dir",
    required=True,
    help="Directory of SuperNI task files (task*.json, official format), or the dataset name "
    "superni-test (fetched and cached: instructforge data).",
)
@click.option(
    "--predictions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Score these predictions (JSONL {id, prediction}) instead of calling a model.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@settings_command("evaluate superni", cfg=SuperNIConfig, model=ModelConfig)
def superni(tasks_dir: str, predictions: Path | None, out: Path, cfg: SuperNIConfig, model: ModelConfig) -> None:
    """SuperNI: ROUGE-L and exact match per task, per category and overall (official scoring).

    Example: instructforge evaluate superni --tasks superni-test --model embedded --out eval/base
    """
    from ..api.evaluate import call_stats, evaluate_superni

    if predictions is not None and flag_given("model"):
        raise click.UsageError("give --model or --predictions, not both")
    results = evaluate_superni(
        tasks_dir, out=out, model=None if predictions is not None else model, config=cfg, predictions=predictions
    )
    if results["missing_predictions"]:
        ui.info(
            f"warning: {results['missing_predictions']} instances have no prediction; scored as empty "
            "strings (as the official script does)"
        )
    if "generation" in results:
        print_llm_summary(call_stats(results["generation"]))
    ui.show(
        ui.table(
            "SuperNI per task",
            ["task", "category", "n", "ROUGE-L", "EM"],
            [[t, r["category"], r["n"], r["rougeL"], r["exact_match"]] for t, r in results["tasks"].items()],
        )
    )
    ui.show(
        ui.table(
            "SuperNI per category (micro over instances)",
            ["category", "tasks", "ROUGE-L", "EM"],
            [[c, r["n_tasks"], r["rougeL"], r["exact_match"]] for c, r in results["categories"].items()],
        )
    )
    o = results["overall"]
    click.echo(
        f"overall ROUGE-L {o['rougeL']:.2f}  exact match {o['exact_match']:.2f}  "
        f"({results['n_tasks']} tasks, {results['n_instances']} instances) -> {out / RESULTS}"
    )


@evaluate.command("user-oriented")
@click.option(
    "--data",
    required=True,
    help="user_oriented_instructions.jsonl (id, instruction, instances[{input, output}]), or the "
    "dataset name user-oriented (fetched and cached: instructforge data).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@settings_command("evaluate user-oriented", cfg=UserOrientedConfig, model=ModelConfig)
def user_oriented(data: str, out: Path, cfg: UserOrientedConfig, model: ModelConfig) -> None:
    """Answer the user-oriented instructions and have a judge model rate them A/B/C/D.

    The judge stands in for the paper's human raters.
    Example: instructforge evaluate user-oriented --data user-oriented
    --model embedded --judge embedded --out eval/uo --max-instructions 10
    """
    from ..api.evaluate import call_stats, evaluate_user_oriented

    results = evaluate_user_oriented(data, out=out, model=model, config=cfg)
    print_llm_summary(call_stats(results["generation"]["answers"]), "answer model calls")
    print_llm_summary(call_stats(results["generation"]["judge"]), "judge model calls")
    n = results["n"] or 1
    ui.show(
        ui.table(
            f"User-oriented ratings (judge: {results['judge']}; substitute for human raters)",
            ["rating", "count", "share"],
            [[k, v, f"{100 * v / n:.1f}%"] for k, v in results["distribution"].items()]
            + [["unparsed", results["unparsed"], f"{100 * results['unparsed'] / n:.1f}%"]],
        )
    )
    d = results["distribution"]
    click.echo(f"A {d['A']}  B {d['B']}  C {d['C']}  D {d['D']}  (n={results['n']}) -> {out / RESULTS}")


@click.command()
@click.argument("eval_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("eval_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON output (default: EVAL_B/compare_vs_<name of EVAL_A>.json).",
)
@settings_command("compare", cfg=CompareConfig)
def compare(eval_a: Path, eval_b: Path, out: Path | None, cfg: CompareConfig) -> None:
    """Per-task comparison of two evaluation dirs: deltas B - A, win/tie/loss share of B, bootstrap CIs.

    Example: instructforge compare eval/self-instruct eval/refine-af
    """
    from ..api.evaluate import compare as run_compare

    target = out or default_out(eval_a, eval_b)
    res = run_compare(eval_a, eval_b, out=target, config=cfg)
    ui.show(
        ui.table(
            f"{res['metric']} per task: B={eval_b} vs A={eval_a}",
            ["task", "A", "B", "B - A", "outcome"],
            [[t, r["a"], r["b"], r["delta"], r["outcome"]] for t, r in res["tasks"].items()],
        )
    )
    ci = res["ci95"]
    ci_txt = (
        (
            f"  95% CI mean delta [{ci['mean_delta'][0]:.2f}, {ci['mean_delta'][1]:.2f}], "
            f"win [{100 * ci['win'][0]:.1f}%, {100 * ci['win'][1]:.1f}%]"
        )
        if ci
        else ""
    )
    click.echo(
        f"B wins {100 * res['win']:.1f}%  ties {100 * res['tie']:.1f}%  loses {100 * res['loss']:.1f}% "
        f"of {res['n_tasks']} tasks; mean delta {res['mean_delta']:+.2f}{ci_txt} -> {target}"
    )


__all__ = ["compare", "evaluate"]
