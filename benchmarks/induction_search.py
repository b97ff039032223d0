"""Instruction search on the 24 Instruction Induction tasks: greedy induction (the paper's
protocol, one prompt per task) against halving + execution, UCB + execution and UCB +
likelihood (APE), all at one budget of scoring calls per task; execution accuracy on test
inputs, mean over tasks with a 95% bootstrap CI, calls and wall time (docs/results_induction.md).

    python benchmarks/induction_search.py --data ../shared/data/instruction-induction --out benchmarks/results/induction_search
    # a GPU server with a 7B model (vLLM serve):
    python benchmarks/induction_search.py --data DIR --out out/ --model openai:Qwen/Qwen2.5-7B --base-url http://HOST:8000/v1 --api completions

Each arm is one ``instructforge induction evaluate`` run (Python API), the cache off, so calls
and wall times are the arm's own. The budget: every search scores 4 proposals with 24
(candidate, held-out demonstration) evaluations (halving: 4x2 + 2x4 + 1x8; UCB: 6 rounds x 2
candidates x 2 demonstrations) out of 8 held-out raw/induce demonstrations, then the chosen
instruction is executed on ``--max-test`` test examples.
"""

from __future__ import annotations

import argparse
import json
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
        first_budget=2,
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
        execute=ExecuteConfig(),
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
        "| arm | mean execution accuracy | 95% CI (tasks) | paired diff vs greedy (95% CI) | search calls | calls | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        a = summary["arms"][arm]
        d = summary.get("diff_vs_greedy", {}).get(arm)
        diff = f"{d['mean']:+.1%} ({d['ci95'][0]:+.1%} to {d['ci95'][1]:+.1%})" if d else "-"
        lines.append(
            f"| {arm} ({a['label']}) | **{a['mean']:.1%}** | {a['ci95'][0]:.1%}-{a['ci95'][1]:.1%} | {diff} | "
            f"{a['search_calls']} | {a['calls']} | {a['wall_seconds'] / 60:.1f} min |"
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
        accs = {t: v["execution_accuracy"] for t, v in res["tasks"].items()}
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
            "wall_seconds": round(wall, 1),
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
