"""A 100K-candidate run still makes a small page: charts get aggregates, the table a sample."""

from __future__ import annotations

import json
import random
import time

import pytest

from instructforge.data.store import RunStore
from instructforge.reports import ReportConfig, build_report

N = 100_000


def _big_store(run, shared) -> int:
    """100K candidates (60% accepted, each with a 2-instance task) written with executemany."""
    pool = []
    for name in ("v1", "v2", "v3"):
        with open(shared / "alpaca-libre" / f"alpaca_libre_tasks_{name}.jsonl", encoding="utf-8") as f:
            for line in f:
                try:
                    pool.append(json.loads(line))
                except json.JSONDecodeError:  # 14 lines of v2 are not JSON as published
                    continue
    seeds = [json.loads(x) for x in (shared / "self-instruct" / "seed_tasks.jsonl").read_text().splitlines()]
    rng = random.Random(0)
    rows, accepted = [], 0
    for i in range(N):
        r = pool[i % len(pool)]
        text = r["instruction"] if i < len(pool) else f"{r['instruction']} Case {i}."
        ok = rng.random() < 0.6
        key = f"r{i // 50:05d}.{i % 50:02d}.00"
        p = {
            "instruction": text,
            "round": i // 50,
            "reason": None if ok else rng.choice(["too_similar", "blacklist"]),
            "detail": None,
            "max_rouge_l": round(rng.random(), 3),
            "most_similar": seeds[i % 175]["instruction"],
            "is_classification": i % 7 == 0,
        }
        rows.append(("candidate", key, "accepted" if ok else "rejected", json.dumps(p)))
        if ok:
            accepted += 1
            inst = {"input": r.get("input", ""), "output": r.get("output", "")}
            rows.append(
                (
                    "task",
                    key,
                    "accepted",
                    json.dumps({"instruction": text, "instances": [inst, inst], "is_classification": i % 7 == 0}),
                )
            )
    rows += [("seed", s["id"], "", json.dumps(s)) for s in seeds]
    st = RunStore(run)
    with st.transaction():
        st.db.executemany("INSERT INTO records(kind, key, status, payload) VALUES (?, ?, ?, ?)", rows)
        st.set_meta("stage", "instances")
        st.set_meta(
            "stats",
            {
                "requests": 5000,
                "prompt_tokens": 10**7,
                "completion_tokens": 3 * 10**6,
                "cache_hits": 0,
                "cache_misses": 5000,
                "wall_seconds": 9000.0,
            },
        )
    st.close()
    return accepted


@pytest.mark.slow
def test_100k_run_gives_a_small_page(tmp_path, shared_data):
    run = tmp_path / "big"
    accepted = _big_store(run, shared_data)
    t = time.perf_counter()
    out = build_report(run, tmp_path / "report.html")
    seconds = time.perf_counter() - t
    size = out.stat().st_size
    print(f"100K-candidate report: {size / 1e6:.2f} MB in {seconds:.1f} s")
    assert size < 20e6
    data = json.loads((tmp_path / "report.json").read_text())
    cfg = ReportConfig()
    assert data["funnel"]["candidates"] == N and data["funnel"]["accepted_instructions"] == accepted
    assert data["funnel"]["instances"] == 2 * accepted
    assert sum(data["lengths"]["instruction"]["counts"]) == accepted  # aggregated, every record counted
    assert data["verbs"]["parsed"] == cfg.parse_limit and data["verbs"]["of"] == accepted
    assert data["rouge_to_seed"]["scored"] == cfg.rouge_limit
    assert data["table"]["shown"] == cfg.table_rows and data["table"]["total"] == N
    assert (tmp_path / "report.json").stat().st_size < 200_000
