"""Benchmark of the ROUGE-L novelty filter (Self-Instruct section 2.2) on real instructions.

1. Reference vs instructforge on the same real pool: the reference is what the paper's code does
   for each new instruction (``RougeScorer(["rougeL"]).score(new, p)`` for every pool
   instruction ``p``, then the max), on a subsample of queries sized to take about
   ``--ref-seconds``; ours is ``NoveltyIndex.max_similarity`` for many more queries. Both report
   pairs/s (queries x pool size / seconds) and the results are checked to be identical.
2. A 52K-instruction stream (all real instructions plus deterministic variants of them: word drops,
   adjacent swaps, half/half recombinations) deduplicated greedily at threshold 0.7.

Run: ``.venv/bin/python benchmarks/novelty.py [--json results.json]`` (reads ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from instructforge.core.io import atomic_write  # noqa: E402
from instructforge.selfinstruct.novelty import NoveltyIndex, read_records  # noqa: E402

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


def bench_pairs(texts: list[str], ref_seconds: float, n_queries: int, min_seconds: float = 2.0, seed: int = 0) -> dict:
    from rouge_score import rouge_scorer

    uniq = list(dict.fromkeys(texts))
    rng = random.Random(seed)
    held = set(rng.sample(range(len(uniq)), min(n_queries, len(uniq) // 10)))
    pool = [t for i, t in enumerate(uniq) if i not in held]
    queries = [uniq[i] for i in sorted(held)]

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    ref: list[tuple[float, int]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for q in queries:  # the paper's loop, one process
        scores = [scorer.score(q, p)["rougeL"].fmeasure for p in pool]
        best = max(scores)
        ref.append((best, scores.index(best)))
        if time.perf_counter() - t0 >= ref_seconds:
            break
    ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
    ref_pairs = len(ref) * len(pool)

    index = NoveltyIndex()
    t0 = time.perf_counter()
    for p in pool:
        index.add(p)
    build_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    passes = 0
    while passes == 0 or time.perf_counter() - t0 < min_seconds:  # repeat for a stable timing
        ours = [index.max_similarity(q) for q in queries]
        passes += 1
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    mismatches = sum(1 for r, o in zip(ref, ours, strict=False) if r != o)
    ours_pairs = passes * len(queries) * len(pool)
    return {
        "pool": len(pool),
        "reference": {
            "queries": len(ref),
            "pairs": ref_pairs,
            "seconds": ref_s,
            "cpu_seconds": ref_cpu,
            "pairs_per_s": ref_pairs / ref_s,
            "pairs_per_cpu_s": ref_pairs / ref_cpu,
        },
        "instructforge": {
            "queries": len(queries),
            "passes": passes,
            "pairs": ours_pairs,
            "seconds": ours_s,
            "cpu_seconds": ours_cpu,
            "index_build_seconds": build_s,
            "pairs_per_s": ours_pairs / ours_s,
            "pairs_per_cpu_s": ours_pairs / ours_cpu,
            "exact_fraction": index.exact_scored / max(index.pairs_seen, 1),
        },
        "speedup": (ours_pairs / ours_s) / (ref_pairs / ref_s),
        "speedup_cpu": (ours_pairs / ours_cpu) / (ref_pairs / ref_cpu),
        "checked_queries": len(ref),
        "mismatches": mismatches,
    }


def bench_stream(texts: list[str], size: int, threshold: float) -> dict:
    stream = make_stream(texts, size)
    index = NoveltyIndex(threshold=threshold)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    c0 = time.process_time()
    kept = sum(index.check_and_add(t)[0] for t in stream)
    wall = time.perf_counter() - t0
    return {
        "size": len(stream),
        "real_instructions": len(texts),
        "threshold": threshold,
        "kept": kept,
        "rejected": len(stream) - kept,
        "wall_seconds": wall,
        "cpu_seconds": time.process_time() - c0,
        "pairs": index.pairs_seen,
        "exact_fraction": index.exact_scored / max(index.pairs_seen, 1),
        "loadavg_before": load0,
        "loadavg_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--ref-seconds", type=float, default=15.0, help="time budget of the reference")
    ap.add_argument("--queries", type=int, default=600, help="held-out queries for the pair bench")
    ap.add_argument("--min-seconds", type=float, default=2.0, help="min timing of ours (repeats)")
    ap.add_argument("--stream-size", type=int, default=52_000, help="instructions in the stream")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args(argv)

    texts, problems = load_real(a.data)
    for p in problems:
        print(f"skipped {p}", file=sys.stderr)
    res = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "loadavg_start": os.getloadavg()},
        "real_instructions": len(texts),
        "skipped_lines": len(problems),
        "pairs": bench_pairs(texts, a.ref_seconds, a.queries, a.min_seconds),
        "stream": bench_stream(texts, a.stream_size, a.threshold),
    }
    b, s = res["pairs"], res["stream"]
    print(
        f"real instructions: {len(texts)} ({len(problems)} invalid lines skipped); "
        f"cpu_count={os.cpu_count()} loadavg={res['machine']['loadavg_start']}"
    )
    print(
        f"pool {b['pool']}: reference {b['reference']['pairs_per_s']:,.0f} pairs/s "
        f"({b['reference']['queries']} queries, {b['reference']['seconds']:.1f} s); "
        f"instructforge {b['instructforge']['pairs_per_s']:,.0f} pairs/s "
        f"({b['instructforge']['queries']} queries, {b['instructforge']['seconds']:.2f} s); "
        f"speedup {b['speedup']:,.0f}x wall, {b['speedup_cpu']:,.0f}x cpu time; "
        f"mismatches {b['mismatches']}/{b['checked_queries']}"
    )
    print(
        f"stream {s['size']}: kept {s['kept']}, rejected {s['rejected']} in {s['wall_seconds']:.1f} s "
        f"wall ({s['cpu_seconds']:.1f} s cpu, {s['pairs']:,} pairs, "
        f"{100 * s['exact_fraction']:.2f}% scored exactly); loadavg {s['loadavg_after']}"
    )
    if a.json:
        atomic_write(a.json, json.dumps(res, indent=2) + "\n")
    return 1 if b["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
