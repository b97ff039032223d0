"""How full does `instructforge generate` keep an inference server? (issue: streaming generation)

A simulated OpenAI-compatible server runs in its own process (testing/fake_openai.py with
``--plausible``): S slots, each request takes a latency drawn uniformly from [LO, HI] seconds,
more requests than slots wait in its queue (as on vLLM), and the answers are plausible for each
prompt kind (a numbered list of new tasks, Yes/No, examples; testing/plausible.py). The whole
`generate` CLI (bootstrap, filters, classification, instances, the run store) runs against it
as a user would run it, in its own process, with no call cache.

    efficiency = completed requests / (wall x S / mean latency)

i.e. the server's work done over the most it could have done in that time (the reference,
S / mean latency requests per second, is printed beside it). Also printed: the client's CPU
per request and its peak RSS, for each N (flat in N means memory is bounded).

    .venv/bin/python benchmarks/generate_scale.py [--n 1500] [--slots 128] [--concurrency 128|auto]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from instructforge.core.io import write_json
from instructforge.testing.fake_openai import server_process, server_stats

CLI = [sys.executable, "-m", "instructforge.cli"]


@contextlib.contextmanager
def sim_server(slots: int, lo: float, hi: float, seed: int = 0) -> Iterator[str]:
    args = ("--plausible", "--latency-range", str(lo), str(hi), "--max-concurrency", str(slots), "--seed", str(seed))
    with server_process(*args) as (_, url):
        yield url


def run_once(n: int, slots: int, lo: float, hi: float, concurrency: str) -> dict:
    with sim_server(slots, lo, hi) as url, tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [
                *CLI,
                "--quiet",
                "generate",
                "--out",
                f"{tmp}/run",
                "--num-instructions",
                str(n),
                "--model",
                "openai:sim",
                "--base-url",
                url,
                "--concurrency",
                concurrency,
                "--no-cache",
                "--seed",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak_kb = 0
        while p.poll() is None:  # the client's own peak RSS (VmHWM), read while it runs
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"generate failed:\n{p.stderr.read()[-3000:] if p.stderr else ''}")
        summary = json.loads(Path(f"{tmp}/run/summary.json").read_text())
        srv = server_stats(url)
    mean_latency = (lo + hi) / 2
    ideal_rps = slots / mean_latency
    pipeline_wall = float(summary["stats"]["wall_seconds"])
    served = int(srv["served"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "num_instructions": n,
        "slots": slots,
        "latency_s": [lo, hi],
        "concurrency": concurrency,
        "accepted": summary["accepted"],
        "tasks_accepted": summary["tasks_accepted"],
        "requests_completed": served,
        "client_requests": summary["stats"]["requests"],
        "reference_rps": round(ideal_rps, 2),
        "achieved_rps": round(served / wall, 2),
        "efficiency": round(served / (wall * ideal_rps), 4),
        # the same over the pipeline's own clock (from the first prompt to the last commit)
        "efficiency_pipeline_clock": round(served / (pipeline_wall * ideal_rps), 4),
        "wall_s": round(wall, 2),
        "pipeline_wall_s": round(pipeline_wall, 2),
        "client_cpu_ms_per_request": round(1000 * cpu / max(1, served), 3),
        "client_peak_rss_mb": round(peak_kb / 1024, 1),
        "server_max_in_flight": srv["max_in_flight"],
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1500", help="accepted instructions to reach; comma-separated for several runs")
    ap.add_argument("--slots", type=int, default=128)
    ap.add_argument("--latency", type=float, nargs=2, default=(1.0, 3.0), metavar=("LO", "HI"))
    ap.add_argument("--concurrency", default="128", help="what the user passes: a number or auto")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    results = []
    for n in [int(x) for x in a.n.split(",")]:
        r = run_once(n, a.slots, a.latency[0], a.latency[1], a.concurrency)
        results.append(r)
        print(
            f"N={n:5d} concurrency={a.concurrency}: {r['requests_completed']} requests in {r['wall_s']} s = "
            f"{r['achieved_rps']} req/s vs reference {r['reference_rps']} req/s -> efficiency "
            f"{r['efficiency']:.1%} (pipeline clock {r['efficiency_pipeline_clock']:.1%}); client "
            f"{r['client_cpu_ms_per_request']} ms CPU/request, peak RSS {r['client_peak_rss_mb']} MB; "
            f"server peak in flight {r['server_max_in_flight']}",
            flush=True,
        )
    print(json.dumps(results))
    if a.json:
        write_json(Path(a.json), results)


if __name__ == "__main__":
    main()
