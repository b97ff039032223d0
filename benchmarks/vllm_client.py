"""Our `generate` against a real vLLM server vs vLLM's own benchmark client, same prompts, same
concurrency. (issue: streaming generation)

1. `instructforge generate` runs against the server (started by scripts/vllm_server.sh) with
   `--concurrency C` and no cache; INSTRUCTFORGE_REQUEST_LOG records every request it sent
   and how many tokens came back. Throughput = completion tokens / the pipeline's wall time.
2. The same requests go to vLLM's own client (`vllm bench serve` through
   scripts/vllm_server.sh bench, chat endpoint), all at once at the same max concurrency: what
   the server can do when nothing makes a request wait for another's answer. Two ways:
   - "same requests": each with exactly our request body's sampling fields (temperature,
     top_p, max_tokens, stop strings, penalties, seed), as vLLM's client sends any request;
     this is the reference of the ratio;
   - "plain": vLLM's benchmark defaults (greedy, no stop strings, no penalties, no seed),
     each asked for exactly the tokens our run got back (--ignore-eos): the server's best
     case, printed to show what the paper's sampling parameters cost the server.

    ratio = our completion tokens/s / vLLM client's output tokens/s (same requests)   goal >= 0.85

Our pipeline is a dataflow (an instruction is classified after it is accepted, its instances
are asked for after it is classified), so its tail waits on dependencies the bench client
never has; the ratio measures how much that and our client cost.

    scripts/vllm_server.sh start && scripts/vllm_server.sh wait
    .venv/bin/python benchmarks/vllm_client.py --n 30 --concurrency 32
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructforge.core.io import write_json

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "instructforge.cli"]


def run_ours(url: str, n: int, concurrency: int, tmp: Path) -> tuple[dict, list[dict]]:
    log = tmp / "requests.jsonl"
    env = {**os.environ, "INSTRUCTFORGE_REQUEST_LOG": str(log), "INSTRUCTFORGE_CACHE_DIR": str(tmp / "cache")}
    t0 = time.perf_counter()
    subprocess.run(
        [
            *CLI,
            "--quiet",
            "generate",
            "--out",
            str(tmp / "run"),
            "--num-instructions",
            str(n),
            "--model",
            "openai:smollm2",
            "--base-url",
            url,
            "--concurrency",
            str(concurrency),
            "--no-cache",
            "--seed",
            "0",
        ],
        check=True,
        env=env,
    )
    wall = time.perf_counter() - t0
    summary = json.loads((tmp / "run" / "summary.json").read_text())
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    stats = summary["stats"]
    pipeline_wall = float(stats["wall_seconds"])
    return {
        "requests": len(rows),
        "completion_tokens": stats["completion_tokens"],
        "prompt_tokens": stats["prompt_tokens"],
        "errors": stats.get("errors", 0),
        "accepted": summary["accepted"],
        "tasks_accepted": summary["tasks_accepted"],
        "pipeline_wall_s": round(pipeline_wall, 2),
        "process_wall_s": round(wall, 2),
        "output_tok_s": round(stats["completion_tokens"] / pipeline_wall, 2),
    }, rows


def run_vllm_client(rows: list[dict], concurrency: int, tmp: Path, same_params: bool) -> dict:
    from instructforge.models.backends.openai_compat import wire_sampling
    from instructforge.models.types import Request

    data = tmp / f"prompts-{same_params}.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for r in rows:
            msgs = r["request"]["messages"]
            line = {
                "prompt": msgs[-1]["content"] if msgs else r["request"]["prompt"],
                "output_tokens": max(1, int(r["completion_tokens"])),
            }
            if same_params:
                line["overrides"] = wire_sampling(Request.from_dict(r["request"]))
            f.write(json.dumps(line) + "\n")
    extra = [] if same_params else ["--ignore-eos", "--temperature", "0"]
    out = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "vllm_server.sh"),
            "bench",
            "--backend",
            "openai-chat",
            "--endpoint",
            "/v1/chat/completions",
            "--skip-chat-template",
            "--dataset-name",
            "custom",
            "--dataset-path",
            str(data),
            "--custom-output-len",
            "-1",
            "--num-prompts",
            str(len(rows)),
            "--max-concurrency",
            str(concurrency),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    text = out.stdout + out.stderr

    def grab(label: str) -> float:
        m = re.search(rf"{re.escape(label)}:\s*([\d.]+)", text)
        if m is None:
            raise SystemExit(f"vllm bench printed no {label!r}:\n{text[-3000:]}")
        return float(m.group(1))

    return {
        "requests": int(grab("Successful requests")),
        "output_tokens": int(grab("Total generated tokens")),
        "duration_s": grab("Benchmark duration (s)"),
        "output_tok_s": grab("Output token throughput (tok/s)"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="accepted instructions for our run")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--url", default=None, help="default: .venv-vllm/server.url")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    url = a.url or (ROOT / ".venv-vllm" / "server.url").read_text().strip()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours, rows = run_ours(url, a.n, a.concurrency, tmp)
        same = run_vllm_client(rows, a.concurrency, tmp, same_params=True)
        plain = run_vllm_client(rows, a.concurrency, tmp, same_params=False)
    ratio = ours["output_tok_s"] / same["output_tok_s"]
    res = {
        "concurrency": a.concurrency,
        "ours": ours,
        "vllm_bench_same_requests": same,
        "vllm_bench_plain": plain,
        "ratio": round(ratio, 4),
        "ratio_to_plain": round(ours["output_tok_s"] / plain["output_tok_s"], 4),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(
        f"instructforge generate: {ours['requests']} requests, {ours['completion_tokens']} completion tokens in "
        f"{ours['pipeline_wall_s']} s = {ours['output_tok_s']} tok/s"
    )
    print(
        f"vLLM bench client, same requests: {same['output_tokens']} tokens in {same['duration_s']} s "
        f"= {same['output_tok_s']} tok/s -> ratio {ratio:.1%} (goal >= 85%)"
    )
    print(
        f"vLLM bench client, plain (greedy, no stops/penalties/seeds, our token counts): {plain['output_tokens']} "
        f"tokens in {plain['duration_s']} s = {plain['output_tok_s']} tok/s -> ratio {res['ratio_to_plain']:.1%}"
    )
    print(json.dumps(res))
    if a.json:
        write_json(Path(a.json), res)


if __name__ == "__main__":
    main()
