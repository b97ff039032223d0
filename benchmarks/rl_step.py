"""Seconds per REFINE-AF RL step (GRPO + LoRA) on the embedded model.

Builds a small run of accepted instructions, runs ``--steps`` optimizer steps of ``refine`` with
the given settings and reports the median seconds per step (the first step is reported apart:
it includes warm-up). The judge is the embedded model by default (the real feedback path);
``--judge scripted:FILE`` isolates the policy cost. Writes a JSON result with --json.

    INSTRUCTFORGE_THREADS=2 .venv/bin/python benchmarks/rl_step.py --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

INSTRUCTIONS = [
    ("Give three synonyms for the word happy.", False),
    ("Decide whether the sentence is a question or a statement.", True),
    ("Write a short poem about autumn leaves.", False),
    ("Convert the temperature from Celsius to Fahrenheit.", False),
    ("Summarize the paragraph in one sentence.", False),
    ("Tell whether the review is positive or negative.", True),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--num-generations", type=int, default=4)
    ap.add_argument("--prompts-per-step", type=int, default=1)
    ap.add_argument("--max-completion-length", type=int, default=64)
    ap.add_argument("--policy-demos", type=int, default=1, help="demonstrations in the policy prompt (-1: all)")
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--algo", default="grpo", choices=["grpo", "rloo"])
    ap.add_argument("--judge", default="embedded")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    from instructforge import ui
    from instructforge.refine.cli import build_scorers
    from instructforge.refine.rl import RefineConfig, refine
    from instructforge.store import RunStore

    ui.set_quiet(True)
    tmp = Path(tempfile.mkdtemp(prefix="rl_step_"))
    store = RunStore(tmp / "run")
    for i, (ins, clf) in enumerate(INSTRUCTIONS):
        store.add("candidate", f"c{i}", {"instruction": ins, "is_classification": clf}, "accepted")
    store.close()
    cfg = RefineConfig(steps=a.steps, num_generations=a.num_generations, prompts_per_step=a.prompts_per_step,
                       max_completion_length=a.max_completion_length, beta=a.beta, algo=a.algo,
                       policy_demos=None if a.policy_demos < 0 else a.policy_demos, save_steps=10_000)
    scorers, label, llm = build_scorers(a.judge, None, None, use_cache=False)
    t0 = time.perf_counter()
    refine(tmp / "run", tmp / "out", model="embedded", scorers=scorers, cfg=cfg, rew_label=label)
    total = time.perf_counter() - t0
    rows = [json.loads(x) for x in (tmp / "out" / "reward_log.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows]
    later = secs[1:] or secs
    res = {
        "threads": int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "settings": {"algo": a.algo, "num_generations": a.num_generations, "prompts_per_step": a.prompts_per_step,
                     "max_completion_length": a.max_completion_length, "policy_demos": a.policy_demos,
                     "beta": a.beta, "judge": a.judge},
        "steps": len(secs), "first_step_s": secs[0], "median_step_s": round(statistics.median(later), 2),
        "per_step_s": secs, "mean_completion_tokens": round(statistics.mean(r.get("mean_length", 0) for r in rows), 1),
        "projected_100_steps_min": round(100 * statistics.median(later) / 60, 1), "total_s_incl_load": round(total, 1),
    }
    if llm is not None:
        res["judge_model_seconds"] = round(llm.stats.model_seconds, 2)
        llm.close()
    print(json.dumps(res, indent=2))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
