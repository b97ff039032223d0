"""Training steps per second: 2 processes (torchrun, gloo, 1 thread each) against 1 process.

Runs ``finetune`` (SFT + LoRA) and ``refine`` (GRPO + LoRA, a scripted judge so that only the
policy's cost is timed) on the embedded model at the same global batch size and seed, as

- ``1proc_2threads``: ``python -m instructforge ...`` with every core (2 here): what a user runs;
- ``1proc_1thread``: the same with one thread: the cost of one rank alone;
- ``2proc_1thread``: ``torchrun --nproc_per_node 2 -m instructforge ...``, OMP/INSTRUCTFORGE threads 1.

steps/s is ``steps / train_seconds`` of the run's summary (the Trainer's loop: model loading and
process start excluded); the ratio is 2-process over 1-process-2-threads. On a 2-core machine
the two ranks share the cores one process with 2 threads would use, and add the gradient
all-reduce: the ratio measures overhead, not the speed-up of more devices.

    .venv/bin/python benchmarks/train_processes.py --json benchmarks/results/train_processes.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SFT_ROWS = [
    {"instruction": f"Give the opposite of the word {w}.", "input": "", "output": o}
    for w, o in [("cold", "hot"), ("up", "down"), ("big", "small"), ("fast", "slow"), ("light", "dark"), ("old", "new")]
] + [
    {"instruction": "Name a primary color.", "input": "", "output": "Red."},
    {"instruction": "Add the two numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Say hello in French.", "input": "", "output": "Bonjour."},
    {"instruction": "What is the capital of France?", "input": "", "output": "Paris."},
]
INSTRUCTIONS = [
    ("Give three synonyms for the word happy.", False),
    ("Decide whether the sentence is a question or a statement.", True),
    ("Write a short poem about autumn leaves.", False),
    ("Convert the temperature from Celsius to Fahrenheit.", False),
]
JUDGE_RULES = [
    {"regex": r"Reply: [A-Ma-m0-9]", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "No": -2.5}]},
    {"default": True, "response": "No", "top_logprobs": [{"No": -0.2, "Yes": -1.9}]},
]
VARIANTS = {"1proc_2threads": (1, 2), "1proc_1thread": (1, 1), "2proc_1thread": (2, 1)}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cmd(nproc: int, args: list[str]) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "instructforge", *args]
    rdzv = ["--master_addr", "127.0.0.1", "--master_port", str(_port())]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        *rdzv,
        "-m",
        "instructforge",
        *args,
    ]


def run(nproc: int, threads: int, args: list[str]) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), INSTRUCTFORGE_THREADS=str(threads))
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    p = subprocess.run(_cmd(nproc, ["--quiet", *args]), env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t0


def _row(nproc: int, threads: int, summary: dict[str, Any], wall: float) -> dict[str, Any]:
    """One variant's figures from its run's summary (steps/s over the Trainer's loop alone)."""
    return {
        "processes": nproc,
        "threads_per_process": threads,
        "steps": summary["steps"],
        "train_seconds": summary["train_seconds"],
        "steps_per_s": round(summary["steps"] / summary["train_seconds"], 4),
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sft-steps", type=int, default=8)
    ap.add_argument("--rl-steps", type=int, default=3)
    ap.add_argument("--only", choices=["sft", "rl"], default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from instructforge.data.store import RunStore

    results: dict[str, dict[str, dict[str, float]]] = {"sft": {}, "rl": {}}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        data = t / "sft.json"
        data.write_text(json.dumps(SFT_ROWS))
        store = RunStore(t / "run")
        for i, (ins, clf) in enumerate(INSTRUCTIONS):
            store.add("candidate", f"c{i}", {"instruction": ins, "is_classification": clf}, "accepted")
        store.close()
        rules = t / "judge.jsonl"
        rules.write_text("".join(json.dumps(r) + "\n" for r in JUDGE_RULES))
        for name, (nproc, threads) in VARIANTS.items():
            if a.only in (None, "sft"):
                out = t / f"sft-{name}"
                wall = run(
                    nproc,
                    threads,
                    ["finetune", "--data", str(data), "--out", str(out), "--max-steps", str(a.sft_steps)]
                    + ["--batch-size", "4", "--max-length", "64", "--seed", "0", "--encoding", "fixed"],
                )
                s = json.loads((out / "train_summary.json").read_text())
                results["sft"][name] = {**_row(nproc, threads, s, wall), "last_loss": s["last_loss"]}
                print("sft", name, results["sft"][name], flush=True)
            if a.only in (None, "rl"):
                out = t / f"rl-{name}"
                flags = ["--judge", f"scripted:{rules}", "--no-cache", "--steps", str(a.rl_steps)]
                flags += ["--num-generations", "2", "--max-completion-length", "16", "--seed", "0"]
                for kv in ("prompts_per_step=2", "policy_demos=0", "save_steps=1000"):
                    flags += ["--set", kv]
                wall = run(nproc, threads, ["refine", str(t / "run"), "--out", str(out), *flags])
                s = json.loads((out / "refine_summary.json").read_text())
                results["rl"][name] = _row(nproc, threads, s, wall)
                print("rl", name, results["rl"][name], flush=True)
    for stage in ("sft", "rl"):
        r = results[stage]
        if "2proc_1thread" in r and "1proc_2threads" in r:
            r["ratio_2proc_over_1proc"] = {
                "vs_2threads": round(r["2proc_1thread"]["steps_per_s"] / r["1proc_2threads"]["steps_per_s"], 3),
                "vs_1thread": round(r["2proc_1thread"]["steps_per_s"] / r["1proc_1thread"]["steps_per_s"], 3),
            }
    doc = {
        "what": "steps/s of finetune (global batch 4) and refine (GRPO, 2 prompts x 2 answers, scripted judge) "
        "on the embedded model: torchrun 2 ranks x 1 thread (gloo) vs 1 process",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_at_end": os.getloadavg()},
        "results": results,
    }
    print(json.dumps(doc, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
