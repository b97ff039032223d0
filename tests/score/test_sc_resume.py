"""Kill ``instructforge score`` mid-run (SIGKILL), run it again: nothing stored is asked again,
and the final scores equal those of a run that was never interrupted. The judge is the project's
fake OpenAI server with a fixed latency, so the kill lands between chunk commits."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

from sc_helpers import N_INSTANCES, make_run, score_rows

from conftest import CLI, run_cli
from instructforge.testing.fake_openai import FakeOpenAIServer

QUESTIONS_PER_RECORD = 7  # 3 feedback + the Rew substitute + 3 audit


def _count(db_path) -> int:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT COUNT(*) FROM records WHERE kind='score'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_sc_sigkill_then_resume_rescores_nothing_stored(tmp_path, isolated_cache):
    killed, whole = make_run(tmp_path / "killed"), make_run(tmp_path / "whole")
    with FakeOpenAIServer(latency=0.05) as srv:
        args = [
            "score",
            "--judge",
            "openai:fake",
            "--base-url",
            srv.url,
            "--concurrency",
            "1",
            "--chunk-size",
            "2",
            "--no-cache",
        ]
        proc = subprocess.Popen(
            [*CLI, *args[:1], str(killed), *args[1:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
            start_new_session=True,
        )
        deadline = time.time() + 120
        while _count(killed / "run.sqlite") < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        stored = score_rows(killed)
        assert 2 <= len(stored) < N_INSTANCES and len(stored) % 2 == 0  # whole chunks only

        served = srv.served
        p = run_cli(*args[:1], str(killed), *args[1:])
        assert p.returncode == 0, p.stderr
        assert srv.served - served == QUESTIONS_PER_RECORD * (N_INSTANCES - len(stored))
        assert f"{N_INSTANCES - len(stored)} scored, {len(stored)} already stored" in p.stdout
        after = score_rows(killed)
        assert {k: after[k] for k in stored} == stored  # same rows, same seq: never rewritten

        p = run_cli(*args[:1], str(whole), *args[1:])
        assert p.returncode == 0, p.stderr
    assert sorted(p for _, p in after.values()) == sorted(p for _, p in score_rows(whole).values())
    assert len(after) == N_INSTANCES
