"""Embedded-model generation: aggregate tokens/s for one prompt at a time vs batches of 16,
same prompts, same engine, same process (ratio = batch16 / single).

    .venv/bin/python benchmarks/embedded_batch.py [--engine auto] [--prompts 16] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from instructforge.core.io import write_json
from instructforge.models.backends import BackendOptions, load_backend
from workload import paragraph_requests


def run(backend, reqs, batch: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(reqs), batch):
        tokens += sum(c.completion_tokens for c in backend.generate(reqs[i : i + batch]))
    return time.perf_counter() - t0, tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    backend = load_backend("embedded", BackendOptions(engine=a.engine))
    reqs = paragraph_requests(a.prompts, a.max_tokens)
    backend.generate(reqs[:2])  # warm-up
    t1, n1 = run(backend, reqs, 1)
    t16, n16 = run(backend, reqs, 16)
    res = {
        "engine": backend.model_id.split("#")[-1],
        "threads": os.environ.get("INSTRUCTFORGE_THREADS") or os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "single_tok_s": round(n1 / t1, 1),
        "batch16_tok_s": round(n16 / t16, 1),
        "ratio": round((n16 / t16) / (n1 / t1), 2),
        "tokens": [n1, n16],
    }
    print(
        f"engine {res['engine']}: single {res['single_tok_s']} tok/s, batch 16 {res['batch16_tok_s']} tok/s, "
        f"ratio {res['ratio']}x (load {res['load_avg_1m']:.1f})"
    )
    print(json.dumps(res))
    if a.json:
        write_json(Path(a.json), res)


if __name__ == "__main__":
    main()
