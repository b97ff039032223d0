"""The demo's generate stage against the same engine's batched peak, side by side in one run.

Issue 20, part 5: a small run (``make demo``: 12 instructions, seed 0, the embedded model on
ctranslate2) should keep the engine busy. This measures, in one process and one sitting:

* ``peak``: ``benchmarks/engines.py``'s workload (64 sampled paragraph requests of 128 tokens,
  prompts of ~30 tokens) at batch 32, the engine's best batch there: completion tokens per second;
* ``peak_long_prompts``: the same at batch 32 on the demo's long prompts (64 input-first instance
  prompts, ~970 tokens, greedy, 128 tokens): what full batches give on prompts of that length;
* ``demo``: ``generate --num-instructions 12 --seed 0`` without the call cache (every request
  goes to the engine), its completion tokens over the time from the first engine call's start to
  the last one's end (model load excluded; the run's whole wall time is recorded too), once with the shared prompt prefixes passed as a
  cached ``static_prompt`` (the default) and once without (``STATIC_MIN`` set out of reach).

Each demo variant runs in its own output dir; the engine's call log (rows, prompt tokens, the
longest and the total completion per call, seconds) is kept to show where the time goes.

And a bound no scheduler can beat: the run's longest single answer has to be decoded one token
after another, at best at the engine's rate for one lone request (``single``: one paragraph
request of 128 tokens, greedy, alone). So the demo's tok/s is at most its completion tokens over
(longest answer / single rate), whatever else overlaps with it: ``bound_tokens_per_s`` and
``bound_vs_peak``.

    .venv/bin/python benchmarks/small_run.py [--n 12] [--json benchmarks/results/small_run.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from instructforge.core.io import write_json
from instructforge.models.backends import ct2_plan
from instructforge.models.backends.engine_ct2 import CT2Engine
from workload import paragraph_requests


def instance_requests(n: int, max_tokens: int) -> list:
    """The demo's long prompts: the input-first instance prompt (~970 tokens, ~945 of them the
    template's demonstrations) for the first ``n`` packaged seed instructions, greedy."""
    from instructforge.models.types import Request, SamplingParams
    from instructforge.selfinstruct.instances import instance_prompt
    from instructforge.selfinstruct.seeds import PACKAGED_SEEDS, load_seeds

    tasks = load_seeds(PACKAGED_SEEDS)[:n]
    p = SamplingParams(temperature=0, max_tokens=max_tokens)
    return [Request(messages=(("user", instance_prompt(t.instruction, False)),), params=p) for t in tasks]


def peak(backend: Any, batch: int = 32, n: int = 64, reqs: list | None = None) -> dict:
    reqs = reqs or paragraph_requests(n, 128)
    backend.generate(reqs[:2])  # warm
    t0 = time.perf_counter()
    tokens = sum(c.completion_tokens for i in range(0, n, batch) for c in backend.generate(reqs[i : i + batch]))
    dt = time.perf_counter() - t0
    return {"batch": batch, "tokens": tokens, "seconds": round(dt, 2), "tokens_per_s": round(tokens / dt, 1)}


def single(backend: Any) -> dict:
    from instructforge.models.types import Request, SamplingParams

    req = paragraph_requests(1, 128)[0]
    req = Request(messages=req.messages, params=SamplingParams(temperature=0, max_tokens=128))
    t0 = time.perf_counter()
    c = backend.generate([req])[0]
    dt = time.perf_counter() - t0
    return {"tokens": c.completion_tokens, "seconds": round(dt, 2), "tokens_per_s": round(c.completion_tokens / dt, 1)}


def demo(n: int, out: Path, calls: list[dict]) -> dict:
    import instructforge as inf

    real = CT2Engine.generate

    def logged(self: CT2Engine, texts: list[str], requests: list) -> list:
        t = time.perf_counter()
        done = real(self, texts, requests)
        calls.append(
            {
                "start": t,
                "end": time.perf_counter(),
                "rows": len(texts),
                "prompt_tokens": sum(c.prompt_tokens for c in done),
                "completion_tokens": sum(c.completion_tokens for c in done),
                "longest": max(c.completion_tokens for c in done),
                "seconds": round(time.perf_counter() - t, 2),
            }
        )
        return done

    CT2Engine.generate = logged  # type: ignore[method-assign]
    try:
        run = inf.generate(
            out=out, model="embedded", config=inf.GenerateConfig(num_instructions=n, seed=0), cache=False
        )
    finally:
        CT2Engine.generate = real  # type: ignore[method-assign]
    st = json.loads((run.path / "summary.json").read_text())["stats"]
    t0 = calls[0]["start"]
    span = calls[-1]["end"] - t0
    for c in calls:
        c["start"], c["end"] = round(c["start"] - t0, 2), round(c["end"] - t0, 2)
    return {
        "requests": st["requests"],
        "prompt_tokens": st["prompt_tokens"],
        "completion_tokens": st["completion_tokens"],
        "seconds": round(span, 2),
        "run_wall_seconds": st["wall_seconds"],
        "tokens_per_s": round(st["completion_tokens"] / span, 1),
        "engine_seconds": round(sum(c["seconds"] for c in calls), 2),
        "calls": calls,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("INSTRUCTFORGE_THREADS", "2")
    from instructforge.models.backends import load_backend

    backend = load_backend("embedded")
    result: dict[str, Any] = {"benchmark": "small_run", "n": args.n, "load_average_start": os.getloadavg()}
    result["peak"] = peak(backend)
    result["peak_long_prompts"] = peak(backend, reqs=instance_requests(64, 128))
    result["single"] = single(backend)
    backend.close()
    print(
        f"engine peak (batch 32): {result['peak']['tokens_per_s']} tok/s; on the demo's long prompts "
        f"{result['peak_long_prompts']['tokens_per_s']} tok/s; one lone request: {result['single']['tokens_per_s']} tok/s"
    )
    default_min = ct2_plan.STATIC_MIN
    with tempfile.TemporaryDirectory() as tmp:
        for name, static_min in (("demo", default_min), ("demo_no_static_prefix", 10**9)):
            ct2_plan.STATIC_MIN = static_min
            try:
                d = demo(args.n, Path(tmp) / name, [])
            finally:
                ct2_plan.STATIC_MIN = default_min
            d["vs_peak"] = round(d["tokens_per_s"] / result["peak"]["tokens_per_s"], 3)
            d["vs_peak_long_prompts"] = round(d["tokens_per_s"] / result["peak_long_prompts"]["tokens_per_s"], 3)
            longest = max(c["longest"] for c in d["calls"])
            d["longest_answer"] = longest
            d["bound_tokens_per_s"] = round(d["completion_tokens"] / (longest / result["single"]["tokens_per_s"]), 1)
            d["bound_vs_peak"] = round(d["bound_tokens_per_s"] / result["peak"]["tokens_per_s"], 3)
            result[name] = d
            print(
                f"{name}: {d['completion_tokens']} completion tokens in {d['seconds']} s = {d['tokens_per_s']} tok/s "
                f"({d['vs_peak']:.0%} of peak, {d['vs_peak_long_prompts']:.0%} of the long-prompt peak); engine busy {d['engine_seconds']} s over {len(d['calls'])} calls; "
                f"longest answer {longest} tokens, so at most {d['bound_tokens_per_s']} tok/s "
                f"({d['bound_vs_peak']:.0%} of peak) under any schedule"
            )
    # the two variants' answers differ in the last bits (int8), so their outputs' lengths differ too:
    # compare tokens per second as well as wall time
    result["static_prefix_speedup"] = round(result["demo_no_static_prefix"]["seconds"] / result["demo"]["seconds"], 2)
    result["static_prefix_tokens_per_s_ratio"] = round(
        result["demo"]["tokens_per_s"] / result["demo_no_static_prefix"]["tokens_per_s"], 2
    )
    result["load_average_end"] = os.getloadavg()
    print(
        f"static prefix: {result['static_prefix_tokens_per_s_ratio']}x the tok/s, "
        f"{result['static_prefix_speedup']}x the wall time of the demo without it"
    )
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
