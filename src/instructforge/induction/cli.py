"""CLI of the Instruction Induction area: ``induce`` and ``induction evaluate|score``.

A thin shell over induce.py, search.py, seeds.py, evaluate.py and metrics.py
(Honovich et al. 2023; the search follows APE, Zhou et al. 2023).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .. import ui
from ..cli_common import (
    llm_from_options,
    model_options,
    pop_model_kwargs,
    print_llm_summary,
)
from ..errors import InputError
from ..jsonl import iter_jsonl, write_json
from ..store import atomic_write
from . import benchmark as bm
from .metrics import METRICS, mean, score

FORMATS = click.Choice(["raw", "chat"])


@click.command()
@click.option("--demos", "demos_path", type=click.Path(path_type=Path), default=None,
              help="JSONL of {input, output}, or a benchmark task file.")
@click.option("--as-seeds", "seeds_dir", type=click.Path(path_type=Path), default=None,
              help="Dir of *.jsonl demonstration files: write one Self-Instruct seed task per file.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Seed file to write (with --as-seeds).")
@model_options
@click.option("--k", default=5, show_default=True, type=click.IntRange(1, 64), help="Demonstrations per induction prompt (paper: 5).")
@click.option("--num-candidates", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="> 1: APE-style search over this many sampled candidates, scored on held-out demonstrations.")
@click.option("--variations", default=0, show_default=True, type=click.IntRange(0, 100), help="Search: rewordings of the leader to try.")
@click.option("--metric", default="exact_match", show_default=True, type=click.Choice(list(METRICS)), help="Search: scoring metric.")
@click.option("--max-tokens", default=50, show_default=True, type=click.IntRange(1, 4096), help="Induction length (paper: 50).")
@click.option("--prompt-format", default="raw", show_default=True, type=FORMATS, help="raw completion prompt (paper) or chat message.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def induce(demos_path: Path | None, seeds_dir: Path | None, out: Path | None, k: int, num_candidates: int,
           variations: int, metric: str, max_tokens: int, prompt_format: str, seed: int, as_json: bool, **kwargs: Any) -> None:
    """Induce the instruction behind input-output demonstrations.

    Example: instructforge induce --demos demos.jsonl --model embedded
    """
    from .induce import InduceConfig, check_enough, read_demos
    from .induce import induce as run_induce

    m = pop_model_kwargs(kwargs)
    icfg = InduceConfig(k=k, max_tokens=max_tokens, prompt_format=prompt_format, seed=seed)
    if (demos_path is None) == (seeds_dir is None):
        raise InputError("give exactly one of --demos FILE or --as-seeds DIR")
    if seeds_dir is not None:
        if out is None:
            raise InputError("--as-seeds needs --out FILE")
        from .seeds import demo_files, seeds_from_dir

        demo_files(seeds_dir)  # fail before loading a model
        llm = llm_from_options(m)
        try:
            tasks = seeds_from_dir(llm, seeds_dir, icfg)
        finally:
            llm.close()
        atomic_write(out, "".join(json.dumps(t.to_dict(), ensure_ascii=False) + "\n" for t in tasks))
        ui.show(ui.table("seed tasks", ["name", "instances", "classification", "instruction"],
                         [[t.name, len(t.instances), t.is_classification, t.instruction] for t in tasks]))
        click.echo(f"wrote {len(tasks)} seed tasks to {out}")
        print_llm_summary(llm)
        return
    assert demos_path is not None
    demos = read_demos(demos_path)
    check_enough(demos_path, demos, k)
    from .search import SearchConfig, can_search, search

    scfg = SearchConfig(num_candidates=num_candidates, k=k, variations=variations, metric=metric, seed=seed)
    llm = llm_from_options(m)
    try:
        if num_candidates > 1 and can_search(len(demos), scfg):
            res = search(llm, demos, scfg, icfg)
            ui.show(ui.table("candidates (held-out execution accuracy)", ["instruction", "source", "n_eval", "accuracy", "chosen"],
                             [[r["instruction"], r["source"], r["n_eval"], r["accuracy"], "*" if r["chosen"] else ""] for r in res.table()]))
            result: dict[str, Any] = {"instruction": res.best.text, "accuracy": res.best.accuracy,
                                      "n_eval": len(res.best.scores), "candidates": res.table()}
            text = f"{res.best.text}\t(held-out execution accuracy {res.best.accuracy:.3f} on {len(res.best.scores)})"
        else:
            if num_candidates > 1:
                ui.info(f"search needs at least k+{scfg.min_eval} = {k + scfg.min_eval} demonstrations; "
                        f"{len(demos)} given: inducing greedily from the first {k}")
            result = {"instruction": run_induce(llm, [demos[:k]], icfg)[0]}
            text = result["instruction"]
    finally:
        llm.close()
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else text)
    print_llm_summary(llm)


@click.group()
def induction() -> None:
    """Instruction Induction benchmark (Honovich et al. 2023): evaluate and score."""


def _task_list(tasks: str | None) -> list[str] | None:
    return [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None


@induction.command("evaluate")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Benchmark dir (raw/, annotations/, induction_input/).")
@model_options
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir: results.json, table.md.")
@click.option("--tasks", default=None, help="Comma-separated task names (default: every task in DIR/raw/execute).")
@click.option("--num-prompts", default=100, show_default=True, type=click.IntRange(1, 10000), help="Induction prompts per task (paper: 100).")
@click.option("--k", default=5, show_default=True, type=click.IntRange(1, 64), help="Demonstrations per prompt (paper: 5).")
@click.option("--max-test", default=None, type=click.IntRange(1, None), help="Test examples per task (default all, as the paper).")
@click.option("--test-seed", default=0, show_default=True, type=int, help="Seed of the --max-test draw.")
@click.option("--search", "use_search", is_flag=True, help="APE-style search per task instead of greedy induction.")
@click.option("--num-candidates", default=8, show_default=True, type=click.IntRange(1, 1000), help="Search: proposals per task.")
@click.option("--variations", default=0, show_default=True, type=click.IntRange(0, 100), help="Search: rewordings of the leader.")
@click.option("--no-human", is_flag=True, help="Skip executing the gold annotations.")
@click.option("--no-bertscore", is_flag=True, help="Skip BERTScore.")
@click.option("--bertscore-model", default="embedded-minilm", show_default=True,
              help="embedded-minilm, a local model dir, or microsoft/deberta-xlarge-mnli (paper, unconfirmed).")
@click.option("--bertscore-layers", default=None, type=int, help="Layer for BERTScore (default: 6 for embedded-minilm).")
@click.option("--bertscore-rescale", is_flag=True, help="Baseline rescaling (paper, unconfirmed; needs the model's baseline file).")
@click.option("--prompt-format", default="raw", show_default=True, type=FORMATS, help="raw completion prompts (paper) or chat messages.")
@click.option("--task-table", default=None, type=click.Path(path_type=Path), help="Extra task_table.json rows.")
@click.option("--save-predictions", is_flag=True, help="Also write predictions.jsonl (every execution answer).")
def evaluate_cmd(data_dir: Path, out_dir: Path, tasks: str | None, num_prompts: int, k: int, max_test: int | None,
                 test_seed: int, use_search: bool, num_candidates: int, variations: int, no_human: bool,
                 no_bertscore: bool, bertscore_model: str, bertscore_layers: int | None, bertscore_rescale: bool,
                 prompt_format: str, task_table: Path | None, save_predictions: bool, **kwargs: Any) -> None:
    """Induce, execute and score every task of the benchmark.

    Example: instructforge induction evaluate --data ../shared/data/instruction-induction
    --model embedded --out results/induction --tasks sum,antonyms --num-prompts 5 --max-test 20
    """
    from .bertscore import BertScoreConfig
    from .evaluate import EvalConfig, evaluate_benchmark, markdown_table, table_rows
    from .execute import ExecuteConfig
    from .induce import InduceConfig
    from .search import SearchConfig

    m = pop_model_kwargs(kwargs)
    names = bm.check_tasks(data_dir, _task_list(tasks))
    cfg = EvalConfig(
        num_prompts=num_prompts, k=k, max_test=max_test, test_seed=test_seed, human_baseline=not no_human,
        bertscore=not no_bertscore, use_search=use_search, task_table=str(task_table) if task_table else None,
        induce=InduceConfig(k=k, prompt_format=prompt_format), execute=ExecuteConfig(prompt_format=prompt_format),
        search=SearchConfig(num_candidates=num_candidates, k=k, variations=variations),
        bert=BertScoreConfig(model=bertscore_model, num_layers=bertscore_layers, rescale_with_baseline=bertscore_rescale),
    )
    llm = llm_from_options(m)
    try:
        results = evaluate_benchmark(llm, data_dir, cfg, names, keep_predictions=save_predictions)
    finally:
        llm.close()
    preds = results.pop("_predictions", None)
    results["config"]["model_options"] = {k: v for k, v in m.items() if "key" not in k}
    write_json(out_dir / "results.json", results)
    atomic_write(out_dir / "table.md", markdown_table(results))
    if preds is not None:
        atomic_write(out_dir / "predictions.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds))
    cols, rows = table_rows(results)
    ui.show(ui.table(f"Instruction Induction: {results['model']}", cols, [[c.replace("**", "") for c in r] for r in rows]))
    o = results["overall"]
    head = f"execution accuracy {100 * o['execution_accuracy']:.1f}%"
    if o["percent_of_human"] is not None:
        head += f" = {o['percent_of_human']:.1f}% of human ({100 * o['human_execution_accuracy']:.1f}%)"
    if o["bertscore"] is not None:
        head += f"; BERTScore {o['bertscore']:.3f}"
    click.echo(f"{head}; wrote {out_dir / 'results.json'}")
    print_llm_summary(llm)


def read_predictions(path: Path, known: set[str]) -> dict[str, str]:
    """``{id, prediction}`` JSONL -> {id: prediction}, checked line by line."""
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    preds: dict[str, str] = {}
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or "id" not in row or "prediction" not in row:
            raise InputError.at(path, n, 'expected {"id": ..., "prediction": ...}')
        pid = str(row["id"])
        if pid not in known:
            raise InputError.at(path, n, f"unknown id {pid!r} (ids are raw/execute example keys, e.g. {next(iter(known))!r})")
        if pid in preds:
            raise InputError.at(path, n, f"duplicate id {pid!r}")
        if not isinstance(row["prediction"], str):
            raise InputError.at(path, n, "prediction must be a string")
        preds[pid] = row["prediction"]
    if not preds:
        raise InputError.at(path, 1, "no predictions")
    return preds


@induction.command("score")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path))
@click.option("--task", required=True, help="Task name (a file in DATA/raw/execute).")
@click.option("--predictions", "pred_path", required=True, type=click.Path(path_type=Path),
              help='JSONL {"id", "prediction"}; ids are raw/execute example keys ("7"; cause_and_effect: "7:ab", "7:ba").')
@click.option("--task-table", default=None, type=click.Path(path_type=Path), help="Extra task_table.json rows.")
@click.option("--json", "as_json", is_flag=True, help='Print exactly one JSON object {"task", "n", "accuracy"}.')
def score_cmd(data_dir: Path, task: str, pred_path: Path, task_table: Path | None, as_json: bool) -> None:
    """Score given predictions with the task's execution-accuracy metric (no model).

    Example: instructforge induction score --data ../shared/data/instruction-induction --task sum --predictions preds.jsonl --json
    """
    bm.check_tasks(data_dir, [task])
    spec = bm.task_spec(task, bm.load_table(task_table))
    items = {it.id: it for it in bm.test_items(data_dir, task, spec)}
    preds = read_predictions(pred_path, set(items))
    scores = [score(p, items[i].answers, spec.metric) for i, p in preds.items()]
    acc = mean(scores)
    if as_json:
        click.echo(json.dumps({"task": task, "n": len(scores), "accuracy": acc}))
        return
    missing = len(items) - len(preds)
    ui.show(ui.table(f"{task} ({spec.metric})", ["n", "correct", "accuracy", "missing ids"],
                     [[len(scores), round(sum(scores), 4), round(acc, 4), missing]]))
    click.echo(f"{task}: accuracy {acc:.4f} on {len(scores)} predictions ({spec.metric})")

