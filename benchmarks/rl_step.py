"""Seconds per REFINE-AF RL step (GRPO + LoRA) on the embedded model, against TRL's own code paths.

Builds a small run of accepted instructions and runs ``--steps`` optimizer steps of ``refine``
twice, each in its own process: the reference (``shared_prefix: false`` and the allocator left at
glibc's defaults, i.e. TRL's GRPOTrainer as it ships) and ours (the defaults: shared-prefix steps,
allocator tuning). Reports the median seconds per step of each (the first step apart: it includes
warm-up), the measured training time, and the ratio. The judge is the embedded model by default
(the real feedback path); ``--judge scripted:FILE`` isolates the policy cost.

    INSTRUCTFORGE_THREADS=2 .venv/bin/python benchmarks/rl_step.py --steps 5 --json benchmarks/results/rl_step.json
    # the goal, measured rather than projected: 100 steps of ours only
    INSTRUCTFORGE_THREADS=2 .venv/bin/python benchmarks/rl_step.py --steps 100 --only ours
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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
VARIANTS = {
    "trl": {"shared_prefix": False, "env": {"INSTRUCTFORGE_MALLOC_TUNING": "0"}},
    "ours": {"shared_prefix": True, "env": {}},
}


def run_variant(a: argparse.Namespace) -> dict:
    """One variant in this process; returns its result dict."""
    from instructforge.core import ui
    from instructforge.data.store import RunStore
    from instructforge.feedback.factory import build_scorers
    from instructforge.train.refine import refine
    from instructforge.train.refine_config import RefineConfig

    ui.set_quiet(True)
    tmp = Path(tempfile.mkdtemp(prefix="rl_step_"))
    store = RunStore(tmp / "run")
    for i, (ins, clf) in enumerate(INSTRUCTIONS):
        store.add("candidate", f"c{i}", {"instruction": ins, "is_classification": clf}, "accepted")
    store.close()
    cfg = RefineConfig(
        steps=a.steps,
        num_generations=a.num_generations,
        prompts_per_step=a.prompts_per_step,
        max_completion_length=a.max_completion_length,
        beta=a.beta,
        algo=a.algo,
        policy_demos=None if a.policy_demos < 0 else a.policy_demos,
        save_steps=10_000,
        shared_prefix=VARIANTS[a.variant]["shared_prefix"],
    )
    scorers, label, llm = build_scorers(a.judge, None, None, use_cache=False)
    t0 = time.perf_counter()
    summary = refine(tmp / "run", tmp / "out", model="embedded", scorers=scorers, cfg=cfg, rew_label=label)
    total = time.perf_counter() - t0
    rows = [json.loads(x) for x in (tmp / "out" / "reward_log.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows]
    later = secs[1:] or secs
    res = {
        "variant": a.variant,
        "steps": len(secs),
        "first_step_s": secs[0],
        "median_step_s": round(statistics.median(later), 2),
        "mean_step_s": round(statistics.mean(later), 2),
        "train_seconds": summary["train_seconds"],
        "total_s_incl_load": round(total, 1),
        "projected_100_steps_min": round((secs[0] + 99 * statistics.median(later)) / 60, 1),
        "mean_completion_tokens": round(statistics.mean(r.get("mean_length", 0) for r in rows), 1),
        "per_step_s": secs,
    }
    if llm is not None:
        res["judge_model_seconds"] = round(llm.stats.model_seconds, 2)
        llm.close()
    return res


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
    ap.add_argument("--only", choices=sorted(VARIANTS), default=None, help="run one variant (no ratio)")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default=None, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    if a.variant:  # child: run one variant, print its JSON as the last line
        print(json.dumps(run_variant(a)))
        return
    passthrough = list(sys.argv[1:])
    if "--json" in passthrough:
        i = passthrough.index("--json")
        del passthrough[i : i + 2]
    results = {}
    for name in [a.only] if a.only else ["trl", "ours"]:
        env = {**os.environ, **VARIANTS[name]["env"]}
        out = subprocess.run(
            [sys.executable, __file__, *passthrough, "--variant", name],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name}: median {results[name]['median_step_s']} s/step (first {results[name]['first_step_s']} s), "
            f"{results[name]['steps']} steps trained in {results[name]['train_seconds']} s",
            flush=True,
        )
    res = {
        "threads": int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "settings": {
            "algo": a.algo,
            "num_generations": a.num_generations,
            "prompts_per_step": a.prompts_per_step,
            "max_completion_length": a.max_completion_length,
            "policy_demos": a.policy_demos,
            "beta": a.beta,
            "judge": a.judge,
            "steps": a.steps,
        },
        "variants": results,
    }
    if len(results) == 2:
        res["speedup_median_step"] = round(results["trl"]["median_step_s"] / results["ours"]["median_step_s"], 2)
        print(f"ours vs TRL's own paths: {res['speedup_median_step']}x per step")
    print(json.dumps(res, indent=2))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
