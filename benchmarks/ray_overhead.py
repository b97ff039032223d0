"""Ray executor vs local executor on the real embedded model, same requests, same process.

Configurations (all through ``LLM.generate`` without the call cache, the model warm):
``local`` (in-process backend, all cores), ``ray-1`` (one actor with all cores: the same
compute, so the difference is Ray's dispatch overhead) and ``ray-N`` (one actor per core, one
thread each), one at a time, with ``local`` measured first and last to bracket drift in a
shared machine's load. Ray start-up and model loading are timed apart from generation.

    .venv/bin/python benchmarks/ray_overhead.py [--prompts 32] [--max-tokens 64] [--batch-size 8]
        [--repeats 2] [--engine auto] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from instructforge.models.backends import BackendOptions, load_backend
from instructforge.models.client import LLM
from instructforge.models.executors import LocalExecutor
from instructforge.models.types import Request
from workload import paragraph_requests


def requests(n: int, max_tokens: int, round_no: int) -> list[Request]:
    # A new seed per round: nothing is cached anywhere, every round pays for its tokens.
    return paragraph_requests(n, max_tokens, first_seed=1000 * round_no)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import ray

    from instructforge.models.executors.ray import RayExecutor, start_local_ray

    cores = os.cpu_count() or 1
    opts = BackendOptions(engine=a.engine, batch_size=a.batch_size)
    setup: dict[str, float] = {}
    t0 = time.perf_counter()
    start_local_ray(ray, cores)
    setup["ray_init_s"] = round(time.perf_counter() - t0, 2)
    # One configuration at a time (actors of two pools would compete for the same cores);
    # local runs first and last, to bracket any drift in the machine's load.
    configs = ["local", "ray-1"] + ([f"ray-{cores}"] if cores > 1 else []) + ["local"]
    times: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}
    for pos, name in enumerate(configs):
        t0 = time.perf_counter()
        if name == "local":
            llm = LLM("embedded", opts, executor=LocalExecutor(lambda: load_backend("embedded", opts)))
            llm.executor.backend  # noqa: B018 - load now, time it apart
        else:
            ex = RayExecutor("embedded", opts, num_actors=int(name.split("-")[1]))
            ex.batch_size  # noqa: B018 - starts the actors and waits for a model
            llm = LLM("embedded", opts, executor=ex)
        llm.generate(requests(2, 8, 999 + pos), desc="warm-up")
        setup[f"{name}#{pos}_start_s"] = round(time.perf_counter() - t0, 2)
        for r in range(a.repeats):
            reqs = requests(a.prompts, a.max_tokens, 10 * pos + r)
            before = llm.stats.completion_tokens
            t0 = time.perf_counter()
            llm.generate(reqs, desc=name)
            times.setdefault(name, []).append(time.perf_counter() - t0)
            tokens.setdefault(name, []).append(llm.stats.completion_tokens - before)
            print(
                f"{name:7s} round {r}: {tokens[name][-1] / times[name][-1]:6.1f} tok/s "
                f"({tokens[name][-1]} tokens, {times[name][-1]:.1f}s)",
                flush=True,
            )
        llm.close()
    rate = {k: round(sum(tokens[k]) / sum(times[k]), 1) for k in times}
    summary = {
        "tokens_per_s": rate,
        "median_round_s": {k: round(statistics.median(v), 2) for k, v in times.items()},
        "overhead_ray_1_vs_local": round(rate["local"] / rate["ray-1"] - 1, 3),
        f"speedup_ray_{cores}_vs_local": round(rate[f"ray-{cores}"] / rate["local"], 3) if cores > 1 else None,
    }
    load = os.getloadavg()
    print(json.dumps(summary, indent=2))
    print("setup:", setup, f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    ray.shutdown()
    if a.json:
        from instructforge.core.io import atomic_write

        atomic_write(
            Path(a.json),
            json.dumps(
                {
                    "benchmark": "ray_overhead",
                    "prompts": a.prompts,
                    "max_tokens": a.max_tokens,
                    "batch_size": a.batch_size,
                    "repeats": a.repeats,
                    "cores": cores,
                    "engine": a.engine,
                    "setup": setup,
                    "summary": summary,
                    "load_average": [round(x, 2) for x in load],
                },
                indent=2,
            )
            + "\n",
        )


if __name__ == "__main__":
    main()
