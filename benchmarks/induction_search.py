"""Instruction search on the 24 Instruction Induction tasks: greedy induction (the paper's
protocol, one prompt per task) against halving + execution, UCB + execution and UCB +
likelihood (APE), all at one budget of scoring calls per task; execution accuracy on test
inputs, mean over tasks with a 95% bootstrap CI, calls and wall time (reported in
docs/results_induction.md; the summary is copied to docs/results_induction_search.json).

    python benchmarks/induction_search.py --data instruction-induction --out benchmarks/results/induction_search
    # a GPU server with a 7B model (vLLM serve):
    python benchmarks/induction_search.py --data DIR --out out/ --model openai:Qwen/Qwen2.5-7B --base-url http://HOST:8000/v1 --api completions

Each arm is one ``instructforge induction evaluate`` run (Python API), the cache off, so calls
and wall times are the arm's own. The budget: every search proposes 4 instructions and, when
the 4 are distinct, scores them with exactly 24 (candidate, held-out demonstration) evaluations
out of 8 held-out raw/induce demonstrations (halving: 4x4, then the best 2 on the other 4
each, 4x4 + 2x4 = 24 -- halving never rescores a pair; UCB: 6 rounds x 2 candidates x 2
demonstrations = 24). Where proposals merge (duplicates, or no letter or digit) fewer remain
and the arms spend what ``evaluations`` records per task (3 candidates: halving 20, UCB 12;
2: 12 and 12; 1: 8 and 8). Then the chosen instruction is executed on ``--max-test`` test
examples. Every arm decodes with ``early_stop=False`` (the full 30 tokens; the scored text is
the same, see execute.py), so an execution prompt costs exactly one request and the calls are
proposals + distinct scoring prompts + distinct test prompts, with no re-decodes.

Writes, under ``--out``: one ``induction evaluate`` output folder per arm (``results.json``,
``table.md``, ``config.yaml``, ...), ``summary.json`` (per arm: mean, CI, calls, search calls,
evaluations per task, chosen instruction per task, wall time, load average; per task
accuracies; paired differences against greedy) and ``summary.md`` (the two tables).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from instructforge.api.induction import evaluate_induction
from instructforge.induction.evaluate import EvalConfig
from instructforge.induction.execute import ExecuteConfig
from instructforge.induction.induce import InduceConfig
from instructforge.induction.search import SearchConfig

ARMS = {
    "a_greedy": "one greedy induction (paper's protocol, 1 prompt)",
    "b_halving_execution": "halving + execution",
    "c_ucb_execution": "UCB + execution",
    "d_ucb_likelihood": "UCB + likelihood",
}


def arm_config(arm: str, max_test: int, num_candidates: int) -> EvalConfig:
    search = SearchConfig(
        num_candidates=num_candidates,
        max_eval=8,
        min_eval=2,
        first_budget=4,  # halving: 4x4 + 2x4 = 24, the same as UCB's 6 x 2 x 2
        eta=2,
        ucb_rounds=6,
        per_round=0.5,
        num_samples=2,
        method="ucb" if "ucb" in arm else "halving",
        score="likelihood" if "likelihood" in arm else "execution",
    )
    return EvalConfig(
        num_prompts=1,
        max_test=max_test,
        human_baseline=False,
        bertscore=False,
        use_search=arm != "a_greedy",
        induce=InduceConfig(),
        # one request per execution prompt: no re-decode of an answer blank before its first newline
        execute=ExecuteConfig(early_stop=False),
        search=search,
    )


def bootstrap(values: list[float], n: int = 10000, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def markdown(summary: dict[str, Any], per_task: dict[str, dict[str, float]]) -> str:
    """The results table (one row per arm) and the per-task table, as docs/results_induction.md shows them."""
    arms = list(summary["arms"])
    lines = [
        "| arm | mean execution accuracy | 95% CI (tasks) | paired diff vs greedy (95% CI) | evaluations | search calls | calls | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        a = summary["arms"][arm]
        d = summary.get("diff_vs_greedy", {}).get(arm)
        diff = f"{d['mean']:+.1%} ({d['ci95'][0]:+.1%} to {d['ci95'][1]:+.1%})" if d else "-"
        lines.append(
            f"| {arm} ({a['label']}) | **{a['mean']:.1%}** | {a['ci95'][0]:.1%}-{a['ci95'][1]:.1%} | {diff} | "
            f"{a['evaluations']} | {a['search_calls']} | {a['calls']} | {a['wall_seconds'] / 60:.1f} min |"
        )
    lines += ["", "| task | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for t in sorted(per_task):
        lines.append(f"| {t} | " + " | ".join(f"{per_task[t].get(arm, float('nan')):.2f}" for arm in arms) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--api", default="chat", choices=("chat", "completions"))
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--max-test", type=int, default=10)
    ap.add_argument("--num-candidates", type=int, default=4)
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--arms", default=",".join(ARMS))
    a = ap.parse_args()
    out = Path(a.out)
    tasks = a.tasks.split(",") if a.tasks else None
    summary: dict[str, Any] = {"model": a.model, "max_test": a.max_test, "num_candidates": a.num_candidates, "arms": {}}
    per_task: dict[str, dict[str, float]] = {}
    for arm in a.arms.split(","):
        cfg = arm_config(arm, a.max_test, a.num_candidates)
        load_start = os.getloadavg()
        t0 = time.perf_counter()
        res = evaluate_induction(
            a.data,
            out=out / arm,
            tasks=tasks,
            model=a.model,
            config=cfg,
            base_url=a.base_url,
            api=a.api,
            engine=a.engine,
            cache=False,
        )
        wall = time.perf_counter() - t0
        load_end = os.getloadavg()
        accs = {t: v["execution_accuracy"] for t, v in res["tasks"].items()}
        # the instruction each task executed on its test examples (search: the chosen candidate)
        chosen = {t: v["instructions"][0]["text"] for t, v in res["tasks"].items()}
        searched = {t: v["search"] for t, v in res["tasks"].items() if "search" in v}
        evaluations = {t: sum(c["evaluated"] for c in s["candidates"]) for t, s in searched.items()}
        for t, v in accs.items():
            per_task.setdefault(t, {})[arm] = v
        vals = list(accs.values())
        lo, hi = bootstrap(vals)
        summary["arms"][arm] = {
            "label": ARMS[arm],
            "mean": sum(vals) / len(vals),
            "ci95": [lo, hi],
            "n_tasks": len(vals),
            "calls": res["model_stats"]["requests"],
            "search_calls": res["search_calls"] or len(vals),  # greedy: one induction per task
            # (candidate, held-out demonstration) pairs scored, summed over tasks and per task
            "evaluations": sum(evaluations.values()),
            "evaluations_per_task": evaluations,
            "candidates_per_task": {t: len(s["candidates"]) for t, s in searched.items()},
            "search_calls_per_task": {t: s["calls"] for t, s in searched.items()},
            "wall_seconds": round(wall, 1),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
            "chosen": chosen,
            "executor_model": res["executor_model"],
        }
        print(json.dumps({arm: summary["arms"][arm]}), flush=True)
        (out / "summary.json").parent.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps({**summary, "tasks": per_task}, indent=2) + "\n")
    # paired differences against the greedy arm, bootstrapped over tasks
    base = "a_greedy"
    diffs = {}
    for arm in summary["arms"]:
        if arm == base or base not in summary["arms"]:
            continue
        d = [per_task[t][arm] - per_task[t][base] for t in per_task]
        lo, hi = bootstrap(d)
        diffs[arm] = {"mean": sum(d) / len(d), "ci95": [lo, hi]}
    summary["diff_vs_greedy"] = diffs
    (out / "summary.json").write_text(json.dumps({**summary, "tasks": per_task}, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary, per_task))
    print(json.dumps(diffs))


if __name__ == "__main__":
    main()
