"""``instructforge induction evaluate``: the Instruction Induction benchmark end to end
(Honovich et al. 2023, sections 3-4).

For every task: induce instructions from 5-demonstration sets, merge identical ones (with their
counts), execute each distinct instruction and every gold annotation on the test inputs, score
them with the task's metric, and compare induced with gold instructions by BERTScore. Task score
= count-weighted mean over induced instructions; human score = mean over gold annotations;
headline = mean execution accuracy over tasks as a share of the human one.
With ``search``, each task's instruction comes from the APE-style search (search.py) instead,
scored on held-out raw/induce demonstrations, never on the test inputs.

The execution model: by default the model under test executes its own instructions (and the
gold ones); given a fixed ``executor`` LLM (``--executor-model``, as the paper's protocol),
that one answers every execution prompt (and scores the search's candidates), so accuracy
measures the instruction rather than the model that induced it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.settings import option, validate
from ..models.client import LLM
from ..models.modelconfig import ExecutorModelConfig
from ..models.steps import run_steps
from . import benchmark as bm
from .bertscore import BertScoreConfig, bertscore_f1
from .execute import ExecuteConfig, Job, score_jobs
from .induce import InduceConfig, induce
from .metrics import mean, score, weighted_mean
from .search import SearchConfig, search_steps


@dataclass
class EvalConfig:
    """Settings of ``instructforge induction evaluate``: paper values as defaults, CPU-saving
    limits off by default. The nested configs are dotted settings (``induce.k``,
    ``search.num_candidates``, ``bert.model``)."""

    num_prompts: int = option(
        100, "Induction prompts per task (paper: 100, from induction_input)", min=1, max=10000, flag=True
    )
    max_test: int | None = option(
        None, "Test examples per task, drawn with test_seed (null: all, as the paper)", min=1, flag=True
    )
    test_seed: int = option(0, "Seed of the max_test draw", flag=True)
    human_baseline: bool = option(
        True, "Execute the gold annotations too (the paper's human performance)", flag="--human"
    )
    bertscore: bool = option(True, "BERTScore of the induced against the gold instructions", flag=True)
    use_search: bool = option(
        False, "APE-style search per task instead of greedy induction (beyond the paper; --search METHOD sets it)"
    )
    task_table: str | None = option(None, "Extra task_table.json rows (metric, answers, inputs)", flag=True)
    save_predictions: bool = option(False, "Also write predictions.jsonl (every execution answer)", flag=True)
    induce: InduceConfig = option(default_factory=InduceConfig, help="The induction call")
    execute: ExecuteConfig = option(default_factory=ExecuteConfig, help="The execution call")
    search: SearchConfig = option(default_factory=SearchConfig, help="The search (with use_search)")
    bert: BertScoreConfig = option(default_factory=BertScoreConfig, help="BERTScore")
    executor_model: ExecutorModelConfig = option(
        default_factory=ExecutorModelConfig, help="The fixed model that executes instructions (null: the model itself)"
    )

    def __post_init__(self) -> None:
        validate(self)
        for name, cls in (
            ("induce", InduceConfig),
            ("execute", ExecuteConfig),
            ("search", SearchConfig),
            ("bert", BertScoreConfig),
            ("executor_model", ExecutorModelConfig),
        ):
            if not isinstance(getattr(self, name), cls):
                raise InputError(f"EvalConfig: {name} must be a {cls.__name__}")

    def execute_config(self) -> ExecuteConfig:
        """``execute`` with its prompt format resolved (null: the induction's)."""
        if self.execute.prompt_format is not None:
            return self.execute
        return replace(self.execute, prompt_format=self.induce.prompt_format)


def _held_out(
    data_dir: Path, task: str, spec: bm.TaskSpec, n: int, k: int, seed: int
) -> tuple[list[tuple[str, str]], list[bm.TestItem]]:
    """raw/induce split into a proposal pool (at least k) and at most n held-out items
    (answers from the task table)."""
    import random

    path = data_dir / "raw" / "induce" / f"{task}.json"
    rows = list(bm.read_examples(path).items())
    if len(rows) < k + 1:
        raise InputError.at(path, None, f"{len(rows)} demonstrations: the search needs at least k+1 = {k + 1}")
    n = min(n, len(rows) - k)
    random.Random(seed).shuffle(rows)
    rng = random.Random(seed)
    held = [
        bm.TestItem(str(key), bm.fill(rng.choice(spec.demo_input), ex), bm.answers_of(ex, spec)) for key, ex in rows[:n]
    ]
    pool = [(bm.fill(rng.choice(spec.demo_input), ex), bm.fill(spec.demo_output, ex)) for _, ex in rows[n:]]
    return pool, held


@dataclass
class Plan:
    """Everything a benchmark run reads from disk, read and checked before any model call."""

    data_dir: Path
    names: list[str]
    specs: dict[str, bm.TaskSpec]
    items: dict[str, list[bm.TestItem]]
    gold: dict[str, list[str]]
    demo_sets: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)  # greedy induction
    held_out: dict[str, tuple[list[tuple[str, str]], list[bm.TestItem]]] = field(default_factory=dict)  # search


def plan_benchmark(data_dir: Path, cfg: EvalConfig, tasks: list[str] | None = None) -> Plan:
    """Read and check every file the run needs (InputError naming the file otherwise)."""
    data_dir = Path(data_dir)
    table = bm.load_table(Path(cfg.task_table) if cfg.task_table else None)
    names = bm.check_tasks(data_dir, tasks)
    specs = {t: bm.task_spec(t, table) for t in names}
    plan = Plan(
        data_dir,
        names,
        specs,
        items={t: bm.subsample(bm.test_items(data_dir, t, specs[t]), cfg.max_test, cfg.test_seed) for t in names},
        gold={t: bm.gold_instructions(data_dir, t) for t in names},
    )
    k, seed = cfg.induce.k, cfg.induce.seed
    for t in names:
        if cfg.use_search:
            plan.held_out[t] = _held_out(data_dir, t, specs[t], cfg.search.max_eval, k, seed)
        else:
            plan.demo_sets[t] = bm.demo_sets(data_dir, t, specs[t], cfg.num_prompts, k, seed)
    return plan


def evaluate_benchmark(
    llm: LLM,
    data_dir: Path,
    cfg: EvalConfig,
    tasks: list[str] | None = None,
    plan: Plan | None = None,
    executor: LLM | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the results dict (``kind: induction``). ``executor``: the
    fixed model that executes (default ``llm``). With ``cfg.save_predictions`` every execution
    answer is under ``_predictions`` (not for results.json)."""
    t0 = time.perf_counter()
    exec_llm = executor or llm
    plan = plan or plan_benchmark(data_dir, cfg, tasks)
    names, specs, items, gold = plan.names, plan.specs, plan.items, plan.gold
    induced: dict[str, Counter[str]] = {}
    searches: dict[str, Any] = {}
    if cfg.use_search:
        procs = []
        for t in names:
            pool, held = plan.held_out[t]
            scfg = cfg.search if cfg.search.metric else replace(cfg.search, metric=specs[t].metric)
            procs.append(search_steps(pool, scfg, cfg.induce, cfg.execute_config(), held_out=held))
        # every task's search advances together: one stream per step, not 24 searches in turn
        for t, res in zip(names, run_steps(llm, procs, "searching", {"execute": exec_llm}), strict=True):
            induced[t] = Counter({res.best.text: 1})
            searches[t] = res.summary()
    else:
        flat = [(t, d) for t in names for d in plan.demo_sets[t]]
        texts = induce(llm, [d for _, d in flat], cfg.induce, desc="inducing")
        for t in names:
            induced[t] = Counter()
        for (t, _), text in zip(flat, texts, strict=True):
            induced[t][text] += 1
    out_tasks: dict[str, Any] = {}
    predictions: list[dict[str, Any]] = []
    jobs = []
    for t in names:
        todo = dict(induced[t])
        if cfg.human_baseline:
            for g in gold[t]:
                todo.setdefault(g, 0)
        jobs.append(Job(todo, items[t], specs[t].metric))
    # One batched call for every task: full batches, one re-decode round (see execute.py).
    all_scored = score_jobs(exec_llm, jobs, cfg.execute_config(), desc="executing")
    for t, scored_list in zip(names, all_scored, strict=True):
        scored = {s.text: s for s in scored_list}
        if cfg.save_predictions:
            for s in scored.values():
                kind = "induced" if s.text in induced[t] else "gold"
                predictions += [
                    {"task": t, "source": kind, "instruction": s.text, "id": it.id, "prediction": p}
                    for it, p in zip(items[t], s.predictions, strict=True)
                ]
        ins = [{"text": x, "count": c, "accuracy": round(scored[x].accuracy, 6)} for x, c in induced[t].most_common()]
        human = [scored[g].accuracy for g in gold[t]] if cfg.human_baseline else []
        out_tasks[t] = {
            "metric": specs[t].metric,
            "execution_accuracy": weighted_mean((scored[x].accuracy, c) for x, c in induced[t].items()),
            "human_execution_accuracy": mean(human) if human else None,
            "bertscore": None,
            "n_test": len(items[t]),
            "n_gold": len(gold[t]),
            "instructions": ins,
            "human_instructions": [{"text": g, "accuracy": round(scored[g].accuracy, 6)} for g in gold[t]]
            if cfg.human_baseline
            else [],
        }
        if t in searches:
            out_tasks[t]["search"] = searches[t]
    if cfg.bertscore:
        rows = [x for t in names for x in out_tasks[t]["instructions"]]
        refs = [gold[t] for t in names for _ in out_tasks[t]["instructions"]]
        for x, f in zip(rows, bertscore_f1([x["text"] for x in rows], refs, cfg.bert), strict=True):
            x["bertscore"] = round(f, 6)
        for t in names:
            rows = out_tasks[t]["instructions"]
            out_tasks[t]["bertscore"] = weighted_mean((x["bertscore"], x["count"]) for x in rows) if gold[t] else None
    res = {
        "kind": "induction",
        "model": llm.model_id,
        # who answered the execution prompts: the paper fixes one execution model
        "executor_model": exec_llm.model_id,
        "executor": "the model under test (no --executor-model)" if exec_llm is llm else "a fixed execution model",
        "search_calls": sum(s["calls"] for s in searches.values()) if searches else None,
        "overall": overall(out_tasks),
        "tasks": out_tasks,
        "config": config_dict(cfg, plan.data_dir, names),
        "seconds": round(time.perf_counter() - t0, 1),
        "model_stats": llm.stats.as_dict(),
    }
    if exec_llm is not llm:
        res["executor_stats"] = exec_llm.stats.as_dict()
    if cfg.save_predictions:
        res["_predictions"] = predictions
    return res


def overall(tasks: dict[str, Any]) -> dict[str, Any]:
    ex = mean(v["execution_accuracy"] for v in tasks.values())
    hum = [v["human_execution_accuracy"] for v in tasks.values() if v["human_execution_accuracy"] is not None]
    bs = [v["bertscore"] for v in tasks.values() if v["bertscore"] is not None]
    human = mean(hum) if hum else None
    return {
        "execution_accuracy": ex,
        "human_execution_accuracy": human,
        # Ratio of the two task means; that this is the paper's "X% of human performance"
        # aggregation (rather than a mean of per-task ratios) is not confirmed.
        "percent_of_human": 100 * ex / human if human else None,
        "bertscore": mean(bs) if bs else None,
        "n_tasks": len(tasks),
    }


def config_dict(cfg: EvalConfig, data_dir: Path, names: list[str]) -> dict[str, Any]:
    d = asdict(cfg)
    d["data"] = str(data_dir)
    d["tasks"] = names
    return d


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = ["task", "metric", "n_test", "instructions", "exec acc %", "human %", "% of human", "BERTScore"]
    rows = []
    for t, v in results["tasks"].items():
        h = v["human_execution_accuracy"]
        rel = "-" if not h else f"{100 * v['execution_accuracy'] / h:.0f}"
        rows.append(
            [
                t,
                v["metric"],
                str(v["n_test"]),
                str(len(v["instructions"])),
                _pct(v["execution_accuracy"]),
                _pct(h),
                rel,
                "-" if v["bertscore"] is None else f"{v['bertscore']:.3f}",
            ]
        )
    o = results["overall"]
    rows.append(
        [
            "**overall**",
            "",
            "",
            "",
            _pct(o["execution_accuracy"]),
            _pct(o["human_execution_accuracy"]),
            "-" if o["percent_of_human"] is None else f"{o['percent_of_human']:.0f}",
            "-" if o["bertscore"] is None else f"{o['bertscore']:.3f}",
        ]
    )
    return cols, rows


def markdown_table(results: dict[str, Any]) -> str:
    cols, rows = table_rows(results)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def score_predictions(
    data: Path, task: str, predictions: str | Path | Mapping[str, str], task_table: Path | None = None
) -> dict[str, Any]:
    """``induction score``: execution accuracy of given ``predictions`` (a JSONL file of ``{id,
    prediction}`` or a mapping id -> prediction; ids are raw/execute example keys) on ``task`` of
    the benchmark dir ``data`` with the task's metric; no model. Returns ``{task, metric, n,
    correct, accuracy, missing}``."""
    bm.check_tasks(data, [task])
    spec = bm.task_spec(task, bm.load_table(task_table))
    items = {it.id: it for it in bm.test_items(data, task, spec)}
    if isinstance(predictions, str | Path):
        preds = bm.read_predictions(Path(predictions), set(items))
    else:
        preds = {str(k): v for k, v in predictions.items()}
        unknown = sorted(set(preds) - set(items))
        if unknown:
            raise InputError(f"predictions: unknown id {unknown[0]!r} (ids are raw/execute example keys)")
        if not preds or not all(isinstance(v, str) for v in preds.values()):
            raise InputError("predictions: expected a non-empty mapping of id -> prediction string")
    scores = [score(p, items[i].answers, spec.metric) for i, p in preds.items()]
    return {
        "task": task,
        "metric": spec.metric,
        "n": len(scores),
        "correct": sum(scores),
        "accuracy": mean(scores),
        "missing": len(items) - len(preds),
    }
