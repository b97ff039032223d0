"""OpenAI backend efficiency: achieved request rate as a share of the ideal.

A real local server answers every request after a fixed latency and processes at most
``--server-concurrency`` at once, so the ideal rate is concurrency / latency. We send
``--requests`` requests through the real client (LLM -> executor -> OpenAIBackend) and report
achieved / ideal (goal >= 0.90) and the process RSS along the way (goal: flat).

    .venv/bin/python benchmarks/openai_efficiency.py [--requests 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import time
from pathlib import Path
from types import SimpleNamespace

from instructforge.core.io import write_json
from instructforge.models.backends import BackendOptions
from instructforge.models.client import LLM
from instructforge.models.types import Request, SamplingParams
from instructforge.testing.fake_openai import FakeOpenAIServer, server_process


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def separate_server(latency: float, concurrency: int):
    """The server in its own process, so its threads do not compete with the client for the GIL."""
    with server_process("--latency", str(latency), "--max-concurrency", str(concurrency)) as (_, url):
        yield SimpleNamespace(url=url, max_in_flight=None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None)
    ap.add_argument("--in-process-server", action="store_true", help="server threads in this process (shares the GIL)")
    a = ap.parse_args()
    ideal = a.concurrency / a.latency
    ctx = (
        FakeOpenAIServer(latency=a.latency, max_concurrency=a.concurrency)
        if a.in_process_server
        else separate_server(a.latency, a.concurrency)
    )
    with ctx as srv:
        llm = LLM("openai:bench", BackendOptions(base_url=srv.url, concurrency=a.concurrency))
        params = SamplingParams(max_tokens=16)
        # warm-up: connections opened, loop started
        llm.generate([Request.chat(f"warm {i}", params=params) for i in range(a.concurrency)])
        rss = [rss_mb()]
        t0 = time.perf_counter()
        c0 = time.process_time()
        done = 0
        step = max(1, a.requests // 4)
        while done < a.requests:
            n = min(step, a.requests - done)
            out = llm.generate([Request.chat(f"request {done + i}", params=params) for i in range(n)])
            assert out[-1].text == f"echo: request {done + n - 1}"
            done += n
            rss.append(rss_mb())
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        llm.close()
        max_in_flight = srv.max_in_flight
    achieved = a.requests / wall
    res = {
        "requests": a.requests,
        "latency_s": a.latency,
        "concurrency": a.concurrency,
        "ideal_rps": round(ideal, 1),
        "achieved_rps": round(achieved, 1),
        "efficiency": round(achieved / ideal, 4),
        "wall_s": round(wall, 2),
        # client + server share this process: CPU ms per request shows whether the machine,
        # not the design, is the limit (at 1 core, the ceiling is 1000 / cpu_ms req/s)
        "cpu_ms_per_request": round(1000 * cpu / a.requests, 3),
        "load_avg_1m": round(__import__("os").getloadavg()[0], 2),
        "server_max_in_flight": max_in_flight,
        "rss_mb_first_last_max": [round(rss[0], 1), round(rss[-1], 1), round(max(rss), 1)],
        "rss_growth_mb": round(rss[-1] - rss[0], 1),
    }
    print(f"ideal {ideal:.0f} req/s, achieved {achieved:.1f} req/s -> efficiency {achieved / ideal:.1%}")
    print(f"RSS MB at 0/25/50/75/100%: {[round(x) for x in rss]}")
    print(json.dumps(res))
    if a.json:
        write_json(Path(a.json), res)


if __name__ == "__main__":
    main()
