"""The usage ledger of ``generate`` across a SIGKILL and a resume, and its caps: a run stopped by
``--max-total-tokens`` mid-run (exit 3, nothing lost) resumes under a higher cap and ends with the
records and the totals of an uninterrupted run."""

from __future__ import annotations

import json
import os

import pytest
from si_helpers import run_cli
from test_si_resume import BATCH, clean_run, count_lines, run_and_kill, setup, snapshot  # noqa: F401 - clean_run: a fixture

SPEND = ("requests", "prompt_tokens", "completion_tokens")


def assert_same_spend(done: dict, clean: dict) -> None:
    """Never less than the uninterrupted run's spend (nothing paid for is lost), and more only by
    what was paid twice: a batch the killed process was answered and had recorded but not yet
    cached is sent again (at most one batch), and a restarted bootstrap may send up to one batch
    more of prompts still queued when the target was reached (answers never judged, but paid)."""
    extra_total = 0
    for stage in ("generate:classify", "generate:instances", "generate:bootstrap"):
        extra = done["stages"][stage]["requests"] - clean["stages"][stage]["requests"]
        assert 0 <= extra <= 2 * BATCH, (stage, extra)
        if extra == 0:
            assert {k: done["stages"][stage][k] for k in SPEND} == {k: clean["stages"][stage][k] for k in SPEND}
        extra_total += extra
    assert extra_total <= 2 * BATCH
    if extra_total == 0:
        assert {k: done["total"][k] for k in SPEND} == {k: clean["total"][k] for k in SPEND}


def cache_rows(cache_dir) -> int:
    """How many answers the call cache in ``cache_dir`` holds (0 without one)."""
    import sqlite3

    db = cache_dir / "calls.sqlite"
    if not db.is_file():
        return 0
    con = sqlite3.connect(str(db))
    try:
        return int(con.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    finally:
        con.close()


def ledger(run_dir, *extra):
    p = run_cli("usage", str(run_dir), "--json", *extra, check=True)
    return json.loads(p.stdout)


def test_clean_run_ledger(clean_run):  # noqa: F811
    clean_dir, clean_requests, _ = clean_run
    led = ledger(clean_dir)
    assert led["total"]["requests"] == clean_requests  # every backend call, counted once
    assert led["total"]["cache_hits"] == 0
    assert set(led["stages"]) == {"generate:bootstrap", "generate:classify", "generate:instances"}
    assert sum(s["requests"] for s in led["stages"].values()) == clean_requests
    assert led["total"]["prompt_tokens"] > 0 and led["total"]["completion_tokens"] > 0
    assert led["total"]["cost"] is None  # no price given
    (model,) = led["models"]
    assert model.startswith("scripted:")


@pytest.mark.parametrize("k", [3, 20])
def test_sigkill_resume_adds_up_to_the_uninterrupted_totals(tmp_path, clean_run, k):  # noqa: F811
    clean_dir, clean_requests, _ = clean_run
    args = setup(tmp_path)
    out = tmp_path / "run"
    env = {**os.environ, "INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    seen = run_and_kill(args + ["--out", str(out)], env, tmp_path / "fifo", k)
    assert 1 <= seen < clean_requests
    before = ledger(out)["total"] if (out / "run.sqlite").is_file() else {"requests": 0, "cache_hits": 0}
    cached = cache_rows(tmp_path / "cache")  # answers the killed process had put in the call cache
    log = tmp_path / "resume.jsonl"  # one line per request the resume sent
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache"), "INSTRUCTFORGE_SCRIPTED_LOG": str(log)}
    run_cli(*args, "--out", str(out), check=True, env=env)
    sent = count_lines(log) if log.is_file() else 0
    assert snapshot(out) == snapshot(clean_dir)
    led = ledger(out)
    after = led["total"]
    # what both processes paid for is what the uninterrupted run paid for: never reset, never twice
    assert_same_spend(led, ledger(clean_dir))
    assert after["requests"] >= before["requests"]
    # answers the killed process received but had not committed came back from the cache: hits,
    # not spend. The uninterrupted run asks no request twice (test_clean_run_ledger: no hits), so
    # every hit is an answer the killed process cached, and every request of the uninterrupted
    # run was either sent (by one of the two processes) or answered from that cache.
    hits = after["cache_hits"]
    assert hits <= cached, (hits, cached)
    # the resume's requests were added to the killed process's, each once
    assert after["requests"] == before["requests"] + sent, (after["requests"], before["requests"], sent)
    # what the resume needed (sent + hits) is at most the uninterrupted run's requests (plus a
    # restarted bootstrap's extra batch): a hit counted twice, or a sent request counted as a hit,
    # would pass that; and together the two processes covered every request of it
    assert after["requests"] + hits <= clean_requests + before["requests"] + 2 * BATCH
    assert after["requests"] + hits >= clean_requests
    # a hit saved its tokens (whether there are hits at all depends on whether the killed process
    # had committed the records of what it cached: both happen at k=3)
    assert (hits > 0) == (after["saved_prompt_tokens"] > 0) == (after["saved_completion_tokens"] > 0)


def test_budget_stops_mid_run_and_a_higher_cap_completes(tmp_path, clean_run):  # noqa: F811
    clean_dir, clean_requests, _ = clean_run
    clean = ledger(clean_dir)["total"]
    cap = clean["total_tokens"] // 3
    args = setup(tmp_path)
    out = tmp_path / "run"
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    p = run_cli(*args, "--out", str(out), "--max-total-tokens", str(cap), env=env)
    assert p.returncode == 3, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("stopped: budget reached:"), p.stderr
    mid = ledger(out)["total"]
    assert 0 < mid["total_tokens"] <= cap  # stopped before a request would cross the cap
    assert 0 < mid["requests"] < clean_requests
    # nothing lost: every record written so far is one the uninterrupted run has
    part, full = snapshot(out), snapshot(clean_dir)
    for kind, rows in part.items():
        assert {r[0] for r in rows} <= {r[0] for r in full[kind]}, kind
    # the same cap again: nothing more fits, the same clean stop, nothing spent
    again = run_cli(*args, "--out", str(out), "--max-total-tokens", str(cap), env=env)
    assert again.returncode == 3
    assert ledger(out)["total"]["total_tokens"] == mid["total_tokens"]
    # a higher cap: the run completes, with the records and the spend of an uninterrupted run
    run_cli(*args, "--out", str(out), "--max-total-tokens", str(clean["total_tokens"] * 2), check=True, env=env)
    assert snapshot(out) == full
    done = ledger(out)
    assert_same_spend(done, ledger(clean_dir))
    assert len(done["stops"]) == 2 and done["stops"][0]["max_total_tokens"] == cap
    # the report's usage section: the same ledger, per stage and model, over time, with the stops
    run_cli("--quiet", "report", str(out), "--out", str(tmp_path / "r.html"), check=True)
    rep = json.loads((tmp_path / "r.json").read_text())["usage"]
    assert rep["total"] == done["total"] and set(rep["stages"]) == set(done["stages"])
    assert len(rep["stops"]) == 2 and len(rep["series"]) >= 3
    page = (tmp_path / "r.html").read_text()
    assert 'id="usage"' in page and "Stopped at a cap in generate" in page


def test_cost_budget_needs_a_price_and_stops_by_cost(tmp_path, clean_run):  # noqa: F811
    clean_dir, _, _ = clean_run
    clean = ledger(clean_dir)["total"]
    args = setup(tmp_path)
    out = tmp_path / "run"
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    p = run_cli(*args, "--out", str(out), "--budget", "0.01", env=env)
    assert p.returncode == 2 and p.stderr.strip().startswith("error: --budget 0.01: no price for scripted:")
    assert len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()  # refused before anything was written
    # price 1000/1000 per million: the whole run costs total_tokens / 1000
    full_cost = clean["total_tokens"] / 1000
    p = run_cli(*args, "--out", str(out), "--price", "1000,1000", "--budget", str(full_cost / 2), env=env)
    assert p.returncode == 3, p.stderr
    mid = ledger(out)
    assert 0 < mid["total"]["cost"] <= full_cost / 2
    run_cli(*args, "--out", str(out), "--price", "1000,1000", check=True, env=env)
    assert snapshot(out) == snapshot(clean_dir)
    done = ledger(out)
    assert_same_spend(done, ledger(clean_dir))
    assert done["total"]["cost"] == pytest.approx(done["total"]["total_tokens"] / 1000, abs=1e-5)
