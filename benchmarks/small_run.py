"""The demo's generate stage against the engine's batched peak, side by side in one run.

Issue 20, part 5: a small run (``make demo``: 12 instructions, seed 0, the embedded model) should
keep the engine busy. This measures, in one process and one sitting:

* ``peak``: ``benchmarks/engines.py``'s workload (64 sampled paragraph requests of 128 tokens,
  prompts of ~30 tokens) at batch 32 on the default engine (``auto``: these short prompts go to
  ctranslate2), completion tokens per second;
* ``peak_long_prompts``: 64 input-first instance prompts (~970 tokens, the demo's long prompts,
  greedy, 128 tokens) at batch 32, on ``auto`` (long prompts go to the transformers engine with
  its shared-prefix attention) and on ctranslate2 alone (the default before): what full batches
  give on prompts of that length;
* ``demo``: ``generate --num-instructions 12 --seed 0`` without the call cache (every request
  goes to the engine), its completion tokens over the time from the first engine call's start to
  the last one's end (model load excluded; the run's whole wall time is recorded too), on
  ``auto`` and on ``ctranslate2`` alone.

Each demo variant runs in its own output dir; the engine's call log (rows, prompt tokens, the
longest and the total completion per call, seconds) is kept to show where the time goes.

And a bound no scheduler can beat: the run's longest single answer (a sampled bootstrap answer)
has to be decoded one token after another. ``longest_alone``: one bootstrap-like request (the
bootstrap's sampling, a prompt that keeps the model writing) decoding that many tokens alone on
ctranslate2, where both variants decode bootstrap prompts. So the demo's tok/s is at most its
completion tokens over that time, whatever else overlaps with it: ``bound_tokens_per_s`` and
``bound_vs_peak``. (``single``, one greedy paragraph request of 128 tokens alone, is the
lone-request rate on a short answer.)

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
from instructforge.models.backends.local import LocalBackend
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


def alone(backend: Any, req: Any) -> dict:
    """One request decoded by itself: its tokens, seconds and tokens per second."""
    t0 = time.perf_counter()
    c = backend.generate([req])[0]
    dt = time.perf_counter() - t0
    return {"tokens": c.completion_tokens, "seconds": round(dt, 2), "tokens_per_s": round(c.completion_tokens / dt, 1)}


def single(backend: Any) -> dict:
    from instructforge.models.types import Request, SamplingParams

    req = paragraph_requests(1, 128)[0]
    return alone(backend, Request(messages=req.messages, params=SamplingParams(temperature=0, max_tokens=128)))


def demo(n: int, out: Path, engine: str, calls: list[dict]) -> dict:
    import instructforge as inf

    real = LocalBackend.generate

    def logged(self: LocalBackend, requests: Any) -> list:
        t = time.perf_counter()
        done = real(self, requests)
        calls.append(
            {
                "start": t,
                "end": time.perf_counter(),
                "rows": len(requests),
                "prompt_tokens": sum(c.prompt_tokens for c in done),
                "completion_tokens": sum(c.completion_tokens for c in done),
                "longest": max(c.completion_tokens for c in done),
                "seconds": round(time.perf_counter() - t, 2),
            }
        )
        return done

    LocalBackend.generate = logged  # type: ignore[method-assign]
    try:
        run = inf.generate(
            out=out,
            model="embedded",
            config=inf.GenerateConfig(num_instructions=n, seed=0),
            cache=False,
            engine=engine,
        )
    finally:
        LocalBackend.generate = real  # type: ignore[method-assign]
    summary = json.loads((run.path / "summary.json").read_text())
    st = summary["stats"]
    t0 = calls[0]["start"]
    span = calls[-1]["end"] - t0
    for c in calls:
        c["start"], c["end"] = round(c["start"] - t0, 2), round(c["end"] - t0, 2)
    return {
        "engine": engine,
        "requests": st["requests"],
        "prompt_tokens": st["prompt_tokens"],
        "completion_tokens": st["completion_tokens"],
        "seconds": round(span, 2),
        "run_wall_seconds": st["wall_seconds"],
        "tokens_per_s": round(st["completion_tokens"] / span, 1),
        "engine_seconds": round(sum(c["seconds"] for c in calls), 2),
        "accepted": summary["accepted"],
        "tasks_accepted": summary["tasks_accepted"],
        "calls": calls,
    }


def lone_sampled(backend: Any, tokens: int) -> dict:
    """One bootstrap-like request alone (the bootstrap's sampling: temperature 0.7, top_p 0.5),
    whose prompt keeps the model writing, decoding ``tokens`` tokens: how long the run's longest
    answer takes by itself, the least time any schedule needs for it."""
    from instructforge.models.types import Request, SamplingParams

    msg = "Write every number from 1 to 400 in words, separated by semicolons, on one line."
    params = SamplingParams(temperature=0.7, top_p=0.5, max_tokens=tokens)
    return alone(backend, Request(messages=(("user", msg),), params=params, seed=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("INSTRUCTFORGE_THREADS", "2")
    from instructforge.models.backends import load_backend
    from instructforge.models.backends.base import BackendOptions

    result: dict[str, Any] = {"benchmark": "small_run", "n": args.n, "load_average_start": os.getloadavg()}
    backend = load_backend("embedded")
    result["default_engine"] = backend.engine.name
    result["peak"] = peak(backend)
    result["single"] = single(backend)
    long = instance_requests(64, 128)
    result["peak_long_prompts"] = peak(backend, reqs=long)
    backend.close()
    ct2 = load_backend("embedded", BackendOptions(engine="ctranslate2"))
    result["peak_long_prompts_ctranslate2"] = peak(ct2, reqs=long)
    ct2.close()
    print(
        f"engine peak (batch 32, {result['default_engine']}): {result['peak']['tokens_per_s']} tok/s; on the demo's "
        f"long prompts {result['peak_long_prompts']['tokens_per_s']} tok/s "
        f"(ctranslate2 alone: {result['peak_long_prompts_ctranslate2']['tokens_per_s']}); "
        f"one lone request: {result['single']['tokens_per_s']} tok/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine in (("demo", "auto"), ("demo_ctranslate2", "ctranslate2")):
            d = demo(args.n, Path(tmp) / name, engine, [])
            d["vs_peak"] = round(d["tokens_per_s"] / result["peak"]["tokens_per_s"], 3)
            d["vs_peak_long_prompts"] = round(d["tokens_per_s"] / result["peak_long_prompts"]["tokens_per_s"], 3)
            longest = max(c["longest"] for c in d["calls"])
            d["longest_answer"] = longest
            # the longest answer is a bootstrap answer (sampled, a prompt under 600 tokens: ctranslate2
            # on both engines); decoded alone it still takes this long
            lone = load_backend("embedded", BackendOptions(engine="ctranslate2"))
            d["longest_alone"] = lone_sampled(lone, longest)
            lone.close()
            d["bound_tokens_per_s"] = round(d["completion_tokens"] / d["longest_alone"]["seconds"], 1)
            d["bound_vs_peak"] = round(d["bound_tokens_per_s"] / result["peak"]["tokens_per_s"], 3)
            result[name] = d
            print(
                f"{name} ({engine}): {d['completion_tokens']} completion tokens in {d['seconds']} s = "
                f"{d['tokens_per_s']} tok/s ({d['vs_peak']:.0%} of peak, {d['vs_peak_long_prompts']:.0%} of the "
                f"long-prompt peak); run wall {d['run_wall_seconds']} s; engine busy {d['engine_seconds']} s over "
                f"{len(d['calls'])} calls; longest answer {longest} tokens, {d['longest_alone']['seconds']} s when decoded "
                f"alone, so at most {d['bound_tokens_per_s']} tok/s ({d['bound_vs_peak']:.0%} of peak) under any schedule"
            )
    # int8 and fp32 answers differ, so their lengths do too: compare tokens per second and wall time
    result["auto_vs_ctranslate2_tokens_per_s"] = round(
        result["demo"]["tokens_per_s"] / result["demo_ctranslate2"]["tokens_per_s"], 2
    )
    result["auto_vs_ctranslate2_wall"] = round(
        result["demo_ctranslate2"]["run_wall_seconds"] / result["demo"]["run_wall_seconds"], 2
    )
    result["load_average_end"] = os.getloadavg()
    print(
        f"auto vs ctranslate2 alone: {result['auto_vs_ctranslate2_tokens_per_s']}x the tok/s, "
        f"{result['auto_vs_ctranslate2_wall']}x faster wall time"
    )
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
