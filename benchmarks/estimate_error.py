"""How far ``generate --estimate`` is from what the run then really costs.

For each target N and pilot size P: ``generate --estimate --pilot P``, then the real ``generate``
of N instructions, both
against the plausible simulated server (testing/fake_openai.py ``--plausible``), without the call
cache (``--no-cache``: every figure is spend), the server started with
``--no-usage``: the tokens are then counted by the real embedded tokenizer, as for a server that
reports no usage. Prints and writes (``--json``) the estimate, the real totals and the errors
(estimate / real - 1) of requests and total tokens, and whether the real totals fell inside the
estimate's range.

    python benchmarks/estimate_error.py --n 100,300 --pilots 10,30 --json benchmarks/results/estimate_error.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructforge.testing.fake_openai import server_process

CLI = [sys.executable, "-m", "instructforge.cli", "--quiet"]


def run(args: list[str]) -> None:
    subprocess.run([*CLI, *args], check=True, stdout=subprocess.DEVNULL)


def ledger(run_dir: Path) -> dict:
    out = subprocess.run([*CLI, "usage", str(run_dir), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["total"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="100,300")
    ap.add_argument("--pilots", default="10,30")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    with server_process("--plausible", "--no-usage", quiet=True) as (_, url), tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        model = ["--model", "openai:sim", "--base-url", url, "--concurrency", "16", "--seed", str(a.seed)]
        # no call cache: every figure is spend (and the embedded tokenizer is read from the usual place)
        model += ["--price", "0.5,1.5", "--no-cache"]
        for n in [int(x) for x in a.n.split(",")]:
            real_dir = t / f"real{n}"
            t0 = time.perf_counter()
            run(["generate", "--out", str(real_dir), "--num-instructions", str(n), *model])
            real_s = time.perf_counter() - t0
            real = ledger(real_dir)
            for p in [int(x) for x in a.pilots.split(",")]:
                est_dir = t / f"est{n}-{p}"
                t0 = time.perf_counter()
                run(
                    ["generate", "--out", str(est_dir), "--num-instructions", str(n), "--estimate", "--pilot", str(p)]
                    + model
                )
                est_s = time.perf_counter() - t0
                est = json.loads((est_dir / "estimate.json").read_text())
                e, lo, hi = est["expected"], est["low"], est["high"]
                row = {
                    "n": n,
                    "pilot": p,
                    "estimate_seconds": round(est_s, 2),
                    "run_seconds": round(real_s, 2),
                    "estimate": {k: e[k] for k in ("requests", "total_tokens", "cost")},
                    "range_tokens": [lo["total_tokens"], hi["total_tokens"]],
                    "real": {k: real[k] for k in ("requests", "total_tokens", "cost")},
                    "requests_error": round(e["requests"] / real["requests"] - 1, 4),
                    "tokens_error": round(e["total_tokens"] / real["total_tokens"] - 1, 4),
                    "in_range": lo["total_tokens"] <= real["total_tokens"] <= hi["total_tokens"],
                    "pilot_acceptance": est["acceptance_rate"],
                    "tokens_from": real["tokens_from"],
                }
                rows.append(row)
                print(
                    f"N={n} pilot={p}: estimate {e['requests']} req / {e['total_tokens']:,} tok "
                    f"[{lo['total_tokens']:,}-{hi['total_tokens']:,}] vs real {real['requests']} req / "
                    f"{real['total_tokens']:,} tok: requests {row['requests_error']:+.1%}, "
                    f"tokens {row['tokens_error']:+.1%}, in range: {row['in_range']} "
                    f"(estimate {est_s:.1f} s, run {real_s:.1f} s)",
                    flush=True,
                )
    if a.json:
        Path(a.json).write_text(json.dumps({"load": os.getloadavg()[0], "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
