"""Benchmark: SuperNI evaluation of the 23 shared tasks x 100 instances with the embedded model.

Goal: <= 10 min on 2 cores. Runs the same code path as ``instructforge evaluate superni``
(sorted-by-length batching through ``LLM.generate``), without the call cache so every answer is
really generated. Prints wall time, prompts/s and tokens/s; writes a JSON record including the
process CPU time and the machine load (the dev machine is shared, so wall time alone can mislead).

    INSTRUCTFORGE_THREADS=2 .venv/bin/python benchmarks/superni_eval.py --out benchmarks/superni_eval.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from instructforge.core.io import atomic_write
from instructforge.evaluate.superni import SuperNIConfig, load_tasks, predict, score
from instructforge.models.backends import BackendOptions
from instructforge.models.client import open_llm

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=Path, default=ROOT.parent / "shared" / "data" / "superni")
    ap.add_argument("--max-instances", type=int, default=100)
    ap.add_argument("--only", default="", help="comma-separated task names (default: all)")
    ap.add_argument("--max-tokens", type=int, default=SuperNIConfig.max_tokens)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "superni_eval.json")
    a = ap.parse_args()

    only = tuple(n for n in a.only.split(",") if n)
    cfg = SuperNIConfig(max_instances=a.max_instances, max_tokens=a.max_tokens, only=only)
    tasks = load_tasks(a.tasks, cfg.max_instances, cfg.only)
    n = sum(len(t.instances) for t in tasks)
    load_before = os.getloadavg()
    t_load = time.perf_counter()
    llm = open_llm(a.model, BackendOptions(engine=a.engine, batch_size=a.batch_size), use_cache=False)
    llm.executor.backend  # load the model outside the timed generation  # noqa: B018
    load_s = time.perf_counter() - t_load
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    preds = predict(llm, tasks, cfg)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    results, _ = score(tasks, preds, a.model)
    engine = getattr(getattr(llm.backend, "engine", None), "name", a.engine)
    llm.close()
    s = llm.stats
    record = {
        "benchmark": "superni_eval",
        "model": a.model,
        "engine": engine,
        "tasks": len(tasks),
        "instances": n,
        "max_tokens": cfg.max_tokens,
        "batch_size": a.batch_size,
        "threads": int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or os.cpu_count(),
        "model_load_seconds": round(load_s, 2),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "prompts_per_second": round(n / wall, 3),
        "completion_tokens": s.completion_tokens,
        "prompt_tokens": s.prompt_tokens,
        "tokens_per_second": round(s.completion_tokens / wall, 2),
        "finish_reasons": s.finish_reasons,
        "overall": results["overall"],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write(a.out, json.dumps(record, indent=2) + "\n")
    print(
        f"{n} prompts in {wall:.1f} s wall ({cpu:.1f} s CPU): {n / wall:.2f} prompts/s, "
        f"{record['tokens_per_second']} tok/s, ROUGE-L {results['overall']['rougeL']:.2f}; "
        f"load {record['loadavg_before']} -> {record['loadavg_after']} -> {a.out}"
    )


if __name__ == "__main__":
    main()
