"""Resumability: SIGKILL ``generate`` at several moments (bootstrap, classify, instances), rerun
the same command, and compare with an uninterrupted run: nothing lost, nothing duplicated, the
same records and the same export, and the interrupted work replayed from the call cache."""

from __future__ import annotations

import fcntl
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from si_helpers import records, run_cli, write_rules, write_seeds

VOCAB = sorted(
    {
        w
        for w in (
            "apple river mountain candle rocket violin garden pencil ocean tiger winter castle bridge desert "
            "forest lantern mirror needle orange planet quartz saddle thunder umbrella valley wagon yellow zebra "
            "anchor bakery cactus dolphin engine feather glacier harbor island jungle kettle ladder meadow "
            "napkin oyster pepper quiver ribbon salmon teapot unicorn velvet walnut xylophone yogurt zipper"
        ).split()
    }
)


def bootstrap_responses(n: int) -> list[str]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        items = [f"Explain the {' '.join(rng.sample(VOCAB, 5))} idea." for _ in range(2)]
        if i % 3 == 1:
            items.insert(1, "Draw the " + items[1])  # blacklist
        if i % 4 == 2:
            items.append(items[0])  # duplicate
        out.append("\n".join(f"{k}. {t}" if k > 9 else t for k, t in enumerate(items, 9)))
    return out


RULES = [
    {"regex": r"Task: Explain the [^\n]*(apple|river|tiger)[^\n]*\nIs it classification\?$", "response": " Yes"},
    {"regex": r"\nIs it classification\?$", "response": " No"},
    {
        "contains": "Each task below is a classification task",
        "response": "Class label: A\nInput: one\nClass label: B\nInput: two",
    },
    {
        "regex": r"Task: Explain the [^\n]*(orange|zebra|ladder)[^\n]*\n$",
        "response": "Example 1\nInput: same\nOutput: x\nExample 2\nInput: same\nOutput: y",
    },
    {
        "contains": "Write examples for each of the tasks below",
        "response": "Example 1\nInput: in\nOutput: out\nExample 2\nOutput: solo",
    },
    {"contains": "Continue the list", "response": bootstrap_responses(40)},
]
N = 12
CONFIG = {"pool_lag": 2}
BATCH = 3  # the scripted engine's batch: at most this many answers are lost to a kill
CLI = [sys.executable, "-m", "instructforge.cli"]


def setup(tmp: Path) -> list[str]:
    seeds = write_seeds(tmp / "seeds.jsonl")
    rules = write_rules(tmp / "rules.jsonl", RULES)
    (tmp / "cfg.json").write_text(json.dumps(CONFIG))
    return [
        "--quiet",
        "generate",
        "--seeds",
        str(seeds),
        "--num-instructions",
        str(N),
        "--model",
        f"scripted:{rules}",
        "--config",
        str(tmp / "cfg.json"),
        "--seed",
        "11",
        "--batch-size",
        str(BATCH),
    ]


def snapshot(run: Path) -> dict:
    return {kind: records(run, kind) for kind in ("seed", "candidate", "task", "instance_rejection")}


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def run_and_kill(args: list[str], env: dict, fifo: Path, k: int) -> int:
    """Start the CLI with its request log on a FIFO shrunk to one page, so the process blocks
    once it is a line or two ahead of our reading; read about k requests, then SIGKILL it.
    Returns the number of requests read before the kill."""
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe buffer
    p = subprocess.Popen(
        CLI + args,
        env={**env, "INSTRUCTFORGE_SCRIPTED_LOG": str(fifo)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen, deadline = 0, time.time() + 120
    try:
        while seen < k and p.poll() is None and time.time() < deadline:
            try:
                chunk = os.read(fd, 256)
            except BlockingIOError:
                chunk = None
            if not chunk:
                time.sleep(0.005)
                continue
            seen += chunk.count(b"\n")
    finally:
        p.kill()
        p.wait()
        os.close(fd)
        fifo.unlink()
    return seen


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clean")
    args = setup(tmp)
    log = tmp / "log.jsonl"
    run_cli(
        *args,
        "--out",
        str(tmp / "run"),
        check=True,
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp / "cache"), "INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
    )
    run_cli("export", str(tmp / "run"), "--format", "alpaca", "--out", str(tmp / "a.json"), check=True)
    return tmp / "run", count_lines(log), (tmp / "a.json").read_text()


@pytest.mark.parametrize("k", [1, 3, 5, 10, 20, 28])
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, clean_run, k):
    clean_dir, clean_requests, clean_export = clean_run
    args = setup(tmp_path)
    out = tmp_path / "run"
    env = {**os.environ, "INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    seen = run_and_kill(args + ["--out", str(out)], env, tmp_path / "fifo", k)
    assert 1 <= seen < clean_requests  # it really was stopped part-way
    assert out.is_dir()
    log = tmp_path / "resume.jsonl"
    run_cli(
        *args,
        "--out",
        str(out),
        check=True,
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache"), "INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
    )
    assert snapshot(out) == snapshot(clean_dir)
    run_cli("export", str(out), "--format", "alpaca", "--out", str(tmp_path / "a.json"), check=True)
    assert (tmp_path / "a.json").read_text() == clean_export
    # Work answered before the kill came from the cache: at most the batch in flight is asked again.
    assert count_lines(log) <= clean_requests - seen + BATCH
    # Stats add up across the two processes (what the killed one committed + the resumed one).
    stats = json.loads((out / "summary.json").read_text())["stats"]
    assert stats["requests"] >= clean_requests


def test_clean_run_shape(clean_run):
    clean_dir, clean_requests, _ = clean_run
    snap = snapshot(clean_dir)
    accepted = [k for k, s, _ in snap["candidate"] if s == "accepted"]
    assert len(accepted) == N
    reasons = {p["reason"] for _, s, p in snap["candidate"] if s == "rejected"}
    assert {"blacklist", "duplicate"} <= reasons
    assert {p.get("reason") for _, s, p in snap["task"] if s == "rejected"} == {"conflicting_outputs"}
    assert sum(p["is_classification"] for k, s, p in snap["candidate"] if s == "accepted") >= 1
    assert len({k for k, _, _ in snap["task"]}) == len(snap["task"]) == N
    assert clean_requests == 30  # every kill point above lies inside the run
