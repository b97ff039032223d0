"""The streaming pipeline against a real HTTP server (testing/fake_openai.py answering
instructforge's prompts plausibly, in its own process): answers arriving in any order give the
same dataset; refused and garbled requests are counted rejections; a server that dies mid-run
stops the run with one line, and the same command against a server that is back finishes
with exactly the records of an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from si_helpers import records, run_cli

from instructforge.testing.fake_openai import server_process, server_stats

N = 40


def sim_server(*, port: int = 0, latency=(0.0, 0.03), seed: int = 0, fault_rate: float = 0.0):
    return server_process(
        "--plausible",
        "--latency-range",
        *map(str, latency),
        "--seed",
        str(seed),
        "--port",
        str(port),
        "--fault-rate",
        str(fault_rate),
        "--max-concurrency",
        "64",
        quiet=True,
    )


def served(url: str) -> int:
    return server_stats(url)["served"]


def generate(out: Path, url: str, *extra: str, n: int = N, **kw):
    # pool_lag fixed: its default follows --concurrency, and these runs use different ones
    cfg = out.parent / f"{out.name}.cfg.json"
    cfg.write_text(json.dumps({"pool_lag": 8}))
    return run_cli(
        "--quiet",
        "generate",
        "--out",
        str(out),
        "--num-instructions",
        str(n),
        "--model",
        "openai:sim",
        "--base-url",
        url,
        "--seed",
        "5",
        "--config",
        str(cfg),
        *extra,
        **kw,
    )


def snapshot(run: Path) -> dict:
    return {kind: records(run, kind) for kind in ("candidate", "task", "instance_rejection")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, answers arriving in one order (latency seed 0)."""
    tmp = tmp_path_factory.mktemp("ref")
    with sim_server(seed=0) as (_, url):
        p = generate(tmp / "run", url, "--concurrency", "16", env={"INSTRUCTFORGE_CACHE_DIR": str(tmp / "cache")})
    assert p.returncode == 0, p.stderr
    return tmp / "run"


def test_answers_in_another_order_give_the_same_dataset(reference, tmp_path):
    snap = snapshot(reference)
    assert sum(s == "accepted" for _, s, _ in snap["candidate"]) == N
    assert sum(s == "accepted" for _, s, _ in snap["task"]) >= N // 2
    # other latencies (so another arrival order), another window, no cache: the same records
    with sim_server(seed=7, latency=(0.0, 0.08)) as (_, url):
        p = generate(tmp_path / "run", url, "--concurrency", "5", "--no-cache")
    assert p.returncode == 0, p.stderr
    assert snapshot(tmp_path / "run") == snap
    # the exported dataset too, byte for byte (records were committed in another order)
    for run, name in ((reference, "ref.json"), (tmp_path / "run", "new.json")):
        assert run_cli("export", str(run), "--format", "alpaca", "--out", str(tmp_path / name)).returncode == 0
    assert (tmp_path / "ref.json").read_text() == (tmp_path / "new.json").read_text()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["accepted"] == N and summary["stats"]["errors"] == 0


def test_refused_and_garbled_requests_are_counted_rejections(tmp_path):
    with sim_server(fault_rate=0.1) as (_, url):
        p = generate(tmp_path / "run", url, "--concurrency", "8", "--no-cache")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    tasks = records(tmp_path / "run", "task")
    errors = [t for _, s, t in tasks if s == "rejected" and t["reason"] == "request_error"]
    assert errors and all(("HTTP 400" in t["detail"]) or ("unreadable answer" in t["detail"]) for t in errors)
    assert {"HTTP 400" in t["detail"] for t in errors} == {True, False}  # both kinds were met
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["tasks_rejected"]["request_error"] == len(errors)
    assert summary["stats"]["errors"] >= len(errors)
    assert summary["accepted"] == N  # the run reached its target regardless


def test_server_dies_mid_run_then_resume_matches_uninterrupted(reference, tmp_path):
    import socket

    with socket.socket() as sock:  # a free port the restarted server can take again
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, env = tmp_path / "run", {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    args = ("--concurrency", "16", "--max-retries", "2")
    with sim_server(port=port, latency=(0.02, 0.06)) as (server, url):
        cfg = tmp_path / "run.cfg.json"
        cfg.write_text(json.dumps({"pool_lag": 8}))
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "instructforge.cli",
                "--quiet",
                "generate",
                "--out",
                str(out),
                "--num-instructions",
                str(N),
                "--model",
                "openai:sim",
                "--base-url",
                url,
                "--seed",
                "5",
                "--config",
                str(cfg),
                *args,
            ],
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, **env},
        )
        deadline = time.time() + 60
        while served(url) < 20 and time.time() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-run: requests in flight, more to come
        _, err = client.communicate(timeout=120)
    assert client.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no answer after 3 attempts" in lines[0], err
    partial = snapshot(out)
    full = snapshot(reference)
    assert partial["candidate"] and len(partial["task"]) < len(full["task"])  # killed mid-run
    # what it committed was final: the same keys and verdicts as the uninterrupted run
    assert {(k, st) for k, st, _ in partial["candidate"]} <= {(k, st) for k, st, _ in full["candidate"]}
    with sim_server(port=port, latency=(0.0, 0.03)) as (_, url2):
        assert url2 == url
        p = generate(out, url, *args, env=env)
    assert p.returncode == 0, p.stderr
    assert snapshot(out) == snapshot(reference)
