"""Benchmark of the ROUGE-L novelty filter (Self-Instruct section 2.2) on real instructions.

1. References vs instructforge on the same real pool of instructions, held-out queries: the
   reference scores each new instruction as the paper's code does (``RougeScorer(["rougeL"])
   .score(new, p)`` for every pool instruction ``p``, then the max) in one process, and as the
   reference Self-Instruct loop runs it, ``multiprocessing.Pool(n).map`` over the pool with a new
   Pool per instruction (its code) and with one Pool kept for all (the reference at its best);
   each on a subsample of queries sized to take about ``--ref-seconds``. Ours is
   ``NoveltyIndex.max_similarity`` in one process and ``NoveltyPool.max_similarities`` on
   ``--processes`` cores (all by default). All report pairs/s (queries x pool size / seconds);
   every answer is checked identical.
2. A 52K-instruction stream (all real instructions plus deterministic variants of them: word drops,
   adjacent swaps, half/half recombinations) deduplicated greedily at threshold 0.7, in one
   process and on every core (the same answers), with each reference's time projected from its
   pairs/s.

Run: ``.venv/bin/python benchmarks/novelty.py [--json results.json]`` (reads ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from instructforge.core.io import atomic_write  # noqa: E402
from instructforge.selfinstruct.novelty import NoveltyIndex, read_records  # noqa: E402
from instructforge.selfinstruct.novelty_pool import NoveltyPool, default_processes  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("INSTRUCTFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
FILES = (
    "self-instruct/seed_tasks.jsonl",
    "self-instruct/user_oriented_instructions.jsonl",
    "alpaca-libre/alpaca_libre_tasks_v1.jsonl",
    "alpaca-libre/alpaca_libre_tasks_v2.jsonl",
    "alpaca-libre/alpaca_libre_tasks_v3.jsonl",
)


def load_real(data: Path) -> tuple[list[str], list[str]]:
    """All real instructions (file order) and the problems found (invalid lines are skipped)."""
    texts: list[str] = []
    problems: list[str] = []
    for name in FILES:
        recs, probs = read_records(data / name, "instruction", strict=False)
        texts += [r["instruction"] for _, r in recs]
        problems += probs
    return texts, problems


def make_stream(texts: list[str], size: int, seed: int = 0) -> list[str]:
    """The real instructions plus deterministic variants, shuffled, ``size`` long."""
    rng = random.Random(seed)
    out = list(texts)
    words = [t.split() for t in texts]
    ops = ("drop", "swap", "recombine")
    k = 0
    while len(out) < size:
        op = ops[k % 3]
        k += 1
        w = list(rng.choice(words))
        if op == "drop" and len(w) >= 4:
            del w[rng.randrange(len(w))]
        elif op == "swap" and len(w) >= 3:
            i = rng.randrange(len(w) - 1)
            w[i], w[i + 1] = w[i + 1], w[i]
        else:
            v = rng.choice(words)
            w = w[: (len(w) + 1) // 2] + v[len(v) // 2 :]
        out.append(" ".join(w))
    out = out[:size]
    rng.shuffle(out)
    return out


def _reference_one_process(scorer, queries: list[str], pool: list[str], budget: float) -> tuple[list, float, float]:
    """The paper's scoring, one process: every pool instruction with ``scorer.score``, then max."""
    out: list[tuple[float, int]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for q in queries:
        scores = [scorer.score(q, p)["rougeL"].fmeasure for p in pool]
        best = max(scores)
        out.append((best, scores.index(best)))
        if time.perf_counter() - t0 >= budget:
            break
    return out, time.perf_counter() - t0, time.process_time() - c0


def _reference_pool(scorer, queries: list[str], pool: list[str], budget: float, processes: int, per_query: bool):
    """The reference Self-Instruct loop: ``Pool(n).map(partial(scorer.score, new), pool)`` for
    each new instruction. Its code opens a new Pool for every instruction (``per_query``); the
    other variant keeps one Pool for all of them (the reference at its best)."""
    out: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    keep = None if per_query else multiprocessing.Pool(processes)
    try:
        for q in queries:
            if per_query:
                with multiprocessing.Pool(processes) as p:
                    results = p.map(partial(scorer.score, q), pool)
            else:
                results = keep.map(partial(scorer.score, q), pool)
            scores = [r["rougeL"].fmeasure for r in results]
            best = max(scores)
            out.append((best, scores.index(best)))
            if time.perf_counter() - t0 >= budget:
                break
    finally:
        if keep is not None:
            keep.close()
            keep.join()
    return out, time.perf_counter() - t0


def _timed(fn, min_seconds: float) -> tuple[list, float, float, int]:
    """fn() repeated until min_seconds have passed: (last answers, wall, cpu of this process, passes)."""
    t0, c0, passes = time.perf_counter(), time.process_time(), 0
    while passes == 0 or time.perf_counter() - t0 < min_seconds:
        answers = fn()
        passes += 1
    return answers, time.perf_counter() - t0, time.process_time() - c0, passes


def bench_pairs(
    texts: list[str], ref_seconds: float, n_queries: int, processes: int, min_seconds: float = 2.0, seed: int = 0
) -> dict:
    """Max similarity of held-out queries against a fixed pool of real instructions: the three
    references (one process; a Pool of ``processes`` per query as the reference code does; one
    Pool kept) and ours (one process; every core), answers checked identical."""
    from rouge_score import rouge_scorer

    uniq = list(dict.fromkeys(texts))
    rng = random.Random(seed)
    held = set(rng.sample(range(len(uniq)), min(n_queries, len(uniq) // 10)))
    pool = [t for i, t in enumerate(uniq) if i not in held]
    queries = [uniq[i] for i in sorted(held)]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    refs: dict[str, dict] = {}
    answers: dict[str, list] = {}
    one, one_s, one_cpu = _reference_one_process(scorer, queries, pool, ref_seconds)
    refs["one_process"] = {"queries": len(one), "seconds": one_s, "cpu_seconds": one_cpu}
    answers["one_process"] = one
    for name, per_query in (("pool_per_query", True), ("pool_kept", False)):
        got, secs = _reference_pool(scorer, queries, pool, ref_seconds, processes, per_query)
        refs[name] = {"queries": len(got), "seconds": secs, "processes": processes}
        answers[name] = got
    for r in refs.values():
        r["pairs"] = r["queries"] * len(pool)
        r["pairs_per_s"] = r["pairs"] / r["seconds"]

    index = NoveltyIndex()
    t0 = time.perf_counter()
    for p in pool:
        index.add(p)
    build_s = time.perf_counter() - t0
    ours: dict[str, dict] = {}
    single, s_wall, s_cpu, s_passes = _timed(lambda: [index.max_similarity(q) for q in queries], min_seconds)
    ours["one_process"] = {"passes": s_passes, "seconds": s_wall, "cpu_seconds": s_cpu}
    with NoveltyPool(processes=processes, min_parallel=0) as many:
        for p in pool:
            many.add(p)
        many.max_similarities(queries[:8])  # start the workers outside the timing
        multi, m_wall, m_cpu, m_passes = _timed(lambda: many.max_similarities(queries), min_seconds)
        ours["every_core"] = {
            "passes": m_passes,
            "seconds": m_wall,
            "cpu_seconds_caller": m_cpu,
            "processes": many.processes_used,
        }
    for o in ours.values():
        o["pairs"] = o["passes"] * len(queries) * len(pool)
        o["pairs_per_s"] = o["pairs"] / o["seconds"]
    mismatches = {name: sum(1 for r, o in zip(ref, single, strict=False) if r != o) for name, ref in answers.items()}
    mismatches["every_core"] = sum(1 for a, b in zip(single, multi, strict=True) if a != b)
    return {
        "pool": len(pool),
        "queries": len(queries),
        "index_build_seconds": build_s,
        "exact_fraction": index.exact_scored / max(index.pairs_seen, 1),
        "reference": refs,
        "instructforge": ours,
        "speedup": {f"{o}_vs_{r}": ours[o]["pairs_per_s"] / refs[r]["pairs_per_s"] for o in ours for r in refs},
        "speedup_cpu_one_process": (ours["one_process"]["pairs"] / s_cpu) / (refs["one_process"]["pairs"] / one_cpu),
        "mismatches": mismatches,
    }


def bench_stream(texts: list[str], size: int, threshold: float, processes: int) -> dict:
    """The 52K stream deduplicated greedily, in one process and on every core (the same answers)."""
    stream = make_stream(texts, size)
    out: dict = {"size": len(stream), "real_instructions": len(texts), "threshold": threshold}
    load0 = os.getloadavg()
    index = NoveltyIndex(threshold=threshold)
    t0, c0 = time.perf_counter(), time.process_time()
    one = [index.check_and_add(t) for t in stream]
    out["one_process"] = {"wall_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    t0 = time.perf_counter()
    with NoveltyPool(threshold=threshold, processes=processes) as pool:
        many = pool.greedy(stream)
        out["every_core"] = {"wall_seconds": time.perf_counter() - t0, "processes": pool.processes_used}
    kept = sum(k for k, _, _ in one)
    out.update(
        kept=kept,
        rejected=len(stream) - kept,
        pairs=index.pairs_seen,
        exact_fraction=index.exact_scored / max(index.pairs_seen, 1),
        mismatches=sum(1 for a, b in zip(one, many, strict=True) if a != b),
        loadavg_before=load0,
        loadavg_after=os.getloadavg(),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--ref-seconds", type=float, default=15.0, help="time budget of the reference")
    ap.add_argument("--queries", type=int, default=600, help="held-out queries for the pair bench")
    ap.add_argument("--min-seconds", type=float, default=2.0, help="min timing of ours (repeats)")
    ap.add_argument("--stream-size", type=int, default=52_000, help="instructions in the stream")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--processes", type=int, default=default_processes(), help="cores for the pools (all)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args(argv)

    texts, problems = load_real(a.data)
    for p in problems:
        print(f"skipped {p}", file=sys.stderr)
    res = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "loadavg_start": os.getloadavg()},
        "real_instructions": len(texts),
        "skipped_lines": len(problems),
        "pairs": bench_pairs(texts, a.ref_seconds, a.queries, a.processes, a.min_seconds),
        "stream": bench_stream(texts, a.stream_size, a.threshold, a.processes),
    }
    b, s = res["pairs"], res["stream"]
    # The stream as the references would run it: its pairs at each reference's rate.
    s["reference_projected_seconds"] = {name: s["pairs"] / r["pairs_per_s"] for name, r in b["reference"].items()}
    s["speedup"] = {
        f"{o}_vs_{name}": secs / s[o]["wall_seconds"]
        for name, secs in s["reference_projected_seconds"].items()
        for o in ("one_process", "every_core")
    }
    print(
        f"real instructions: {len(texts)} ({len(problems)} invalid lines skipped); "
        f"cpu_count={os.cpu_count()} processes={a.processes} loadavg={res['machine']['loadavg_start']}"
    )
    print(f"pool {b['pool']}, {b['queries']} queries; pairs/s:")
    for side in ("reference", "instructforge"):
        for name, r in b[side].items():
            print(f"  {side:13} {name:15} {r['pairs_per_s']:>14,.0f}  ({r['seconds']:.2f} s)")
    for name, x in b["speedup"].items():
        print(f"  speedup {name:36} {x:>9,.0f}x")
    print(f"  mismatches {b['mismatches']}")
    print(
        f"stream {s['size']}: kept {s['kept']}, rejected {s['rejected']}, {s['pairs']:,} pairs "
        f"({100 * s['exact_fraction']:.2f}% scored exactly); one process {s['one_process']['wall_seconds']:.1f} s, "
        f"every core {s['every_core']['wall_seconds']:.1f} s ({s['every_core']['processes']} processes); "
        f"mismatches {s['mismatches']}; loadavg {s['loadavg_after']}"
    )
    for name, x in s["speedup"].items():
        print(f"  stream speedup {name:36} {x:>9,.0f}x")
    if a.json:
        atomic_write(a.json, json.dumps(res, indent=2) + "\n")
    return 1 if any(b["mismatches"].values()) or s["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
