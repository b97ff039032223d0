"""Every installed CPU engine side by side: aggregate tokens/s on the same prompts, in one process.

Each engine runs the same sampled requests (a fixed seed per request) at several batch sizes;
the rounds are interleaved (engine A bs 8, engine B bs 8, ..., engine A bs 16, ...) so a busy
shared machine slows every engine alike. Reported: tokens/s per (engine, batch), each engine's
best batch, and ratios of the best to transformers and to llama.cpp.

The llama.cpp reference is ``llamacpp-native``: llama.cpp's own batched decoding *and* its own
sampler chain (top-p, temperature, seeded dist per sequence), as llama.cpp's ``batched`` example
does it - the engine's best, with none of our Python per token. Our ``llamacpp`` engine (llama.cpp
network + the Python sampler shared with the transformers engine) is listed beside it.

    .venv/bin/python benchmarks/engines.py [--prompts 64] [--max-tokens 128]
        [--batch-sizes 8,16,32,64] [--engines ctranslate2,llamacpp,transformers] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from instructforge.models.backends import BackendOptions
from instructforge.models.backends.engines import available_engines
from instructforge.models.types import Request
from workload import paragraph_requests


def prompts(n: int, max_tokens: int) -> list[Request]:
    return paragraph_requests(n, max_tokens)


def timed(backend, reqs: list[Request], batch: int) -> dict:
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(reqs), batch):
        tokens += sum(c.completion_tokens for c in backend.generate(reqs[i : i + batch]))
    dt = time.perf_counter() - t0
    return {"batch": batch, "tokens": tokens, "seconds": round(dt, 2), "tokens_per_s": round(tokens / dt, 1)}


class NativeLlamaCpp:
    """llama.cpp end to end (network and sampling) for the same prompts: the reference."""

    name = "llamacpp-native"

    def __init__(self, engine):
        self.e = engine  # a LlamaCppEngine: its model, tokenizer, context and batched ``decode``

    def generate(self, texts: list[str], requests: list[Request]) -> list:
        from instructforge.models.backends.engine_llamacpp import prefill_items
        from instructforge.models.types import Completion

        e, L = self.e, self.e.L
        n = len(texts)
        prompts = [e.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        ctx = e._context(n, max(len(p) + r.params.max_tokens + 1 for p, r in zip(prompts, requests, strict=True)))
        chains = []
        for r in requests:
            c = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
            L.llama_sampler_chain_add(c, L.llama_sampler_init_top_p(r.params.top_p, 1))
            L.llama_sampler_chain_add(c, L.llama_sampler_init_temp(r.params.temperature))
            L.llama_sampler_chain_add(c, L.llama_sampler_init_dist(r.seed or 0))
            chains.append(c)
        try:
            out = [0] * n
            nxt: dict[int, int] = {}  # sequence -> its sampled next token

            def sample(seq: int, j: int) -> None:  # right after the decode that made row j
                t = L.llama_sampler_sample(chains[seq], ctx, j)
                if t not in e.eos_ids:
                    out[seq] += 1
                    if out[seq] < requests[seq].params.max_tokens:
                        nxt[seq] = t

            e.decode(ctx, prefill_items(prompts), sample)
            while nxt:
                step = [(i, len(prompts[i]) + out[i] - 1, t, True) for i, t in nxt.items()]
                nxt.clear()
                e.decode(ctx, step, sample)
        finally:
            for c in chains:
                L.llama_sampler_free(c)
        return [Completion("", "length", len(p), k) for p, k in zip(prompts, out, strict=True)]


class NativeBackend:
    """Applies the chat template like LocalBackend, then runs NativeLlamaCpp."""

    def __init__(self, local):
        self.local, self.engine = local, NativeLlamaCpp(local.engine)

    def generate(self, reqs: list[Request]) -> list:
        from instructforge.models.backends.local import render_prompt

        texts = [render_prompt(self.local.tokenizer, r) for r in reqs]
        return self.engine.generate(texts, reqs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="8,16,32,64")
    ap.add_argument("--engines", default=",".join(available_engines()))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from instructforge.models.backends.local import LocalBackend

    engines = [e for e in a.engines.split(",") if e]
    if "llamacpp" in engines and "llamacpp-native" not in engines:
        engines.insert(engines.index("llamacpp"), "llamacpp-native")
    sizes = [int(x) for x in a.batch_sizes.split(",")]
    reqs = prompts(a.prompts, a.max_tokens)
    backends = {}
    for e in engines:
        t0 = time.perf_counter()
        if e == "llamacpp-native":
            backends[e] = NativeBackend(LocalBackend(None, BackendOptions(engine="llamacpp")))
        else:
            backends[e] = LocalBackend(None, BackendOptions(engine=e))
        backends[e].generate(reqs[:2])  # warm-up (and conversion, the first time)
        print(f"{e}: loaded + warm-up in {time.perf_counter() - t0:.1f}s", flush=True)
    rows: dict[str, list[dict]] = {e: [] for e in engines}
    for bs in sizes:
        for e in engines:
            r = timed(backends[e], reqs, bs)
            rows[e].append(r)
            print(
                f"{e:15s} batch {bs:3d}: {r['tokens_per_s']:7.1f} tok/s ({r['tokens']} tokens, {r['seconds']}s)",
                flush=True,
            )
    best = {e: max(rows[e], key=lambda r: r["tokens_per_s"]) for e in engines}
    summary = {}
    for e in engines:
        s = {"best_batch": best[e]["batch"], "tokens_per_s": best[e]["tokens_per_s"]}
        for ref in ("transformers", "llamacpp-native"):
            if ref in best and ref != e:
                s[f"vs_{ref}"] = round(best[e]["tokens_per_s"] / best[ref]["tokens_per_s"], 2)
        summary[e] = s
    print("\nengine           best batch   tok/s   vs transformers   vs llama.cpp (native)")
    for e, s in summary.items():
        print(
            f"{e:15s} {s['best_batch']:11d} {s['tokens_per_s']:7.1f} {s.get('vs_transformers', '-'):>17} "
            f"{s.get('vs_llamacpp-native', '-'):>22}"
        )
    load = os.getloadavg()
    result = {
        "benchmark": "engines",
        "prompts": a.prompts,
        "max_tokens": a.max_tokens,
        "sampling": "t=0.7 top_p=0.9",
        "threads": int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or os.cpu_count(),
        "default_engine": available_engines()[0],
        "load_average": [round(x, 2) for x in load],
        "rounds": rows,
        "summary": summary,
    }
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if a.json:
        from instructforge.core.io import atomic_write

        atomic_write(Path(a.json), json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
