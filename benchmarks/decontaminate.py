"""Benchmark of ``instructforge decontaminate``: a 52K-record file against SuperNI and the
user-oriented instructions, with its ratio to a naive loop measured in the same run.

- Records: the real alpaca-libre records (instruction, input, output) plus deterministic variants
  (a word dropped, two words swapped, halves of two records joined) up to ``--records``, with a
  few planted overlaps (benchmark instructions and instances copied in).
- Benchmarks: the SuperNI task files and user_oriented_instructions.jsonl of the reference data
  (``$INSTRUCTFORGE_SHARED_DATA``, default ../shared/data: 23 of the 119 SuperNI test tasks;
  ``--superni DIR`` takes another folder, e.g. ``instructforge data path superni-test``).
- Naive loop: per record and benchmark item, the record's 13-gram set intersected with the item's
  (Python sets of word tuples) and rouge_score's ``RougeScorer(["rougeL"])`` between the record's
  instruction and each benchmark instruction; run on the first records for about
  ``--naive-seconds``, its per-record time extrapolated, its decisions checked against ours.

Run: ``.venv/bin/python benchmarks/decontaminate.py [--records 52000] [--json results.json]``.
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
from instructforge.quality.decontaminate import (  # noqa: E402
    NGRAM,
    ROUGE_THRESHOLD,
    decontaminate,
    load_benchmark,
)
from instructforge.selfinstruct.novelty import read_records, tokenize  # noqa: E402

DATA = Path(os.environ.get("INSTRUCTFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def make_records(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    real = []
    for v in (1, 2, 3):
        recs, _ = read_records(DATA / "alpaca-libre" / f"alpaca_libre_tasks_v{v}.jsonl", "instruction", strict=False)
        real += [(r["instruction"], str(r.get("input") or ""), str(r.get("output") or "")) for _, r in recs]
    rng = random.Random(seed)
    out = list(real)
    k = 0
    while len(out) < n:
        ins, inp, outp = rng.choice(real)
        w = ins.split()
        op = k % 3
        k += 1
        if op == 0 and len(w) >= 4:
            del w[rng.randrange(len(w))]
        elif op == 1 and len(w) >= 3:
            i = rng.randrange(len(w) - 1)
            w[i], w[i + 1] = w[i + 1], w[i]
        else:
            v = rng.choice(real)[0].split()
            w = w[: (len(w) + 1) // 2] + v[len(v) // 2 :]
        out.append((" ".join(w), inp, outp))
    out = out[:n]
    rng.shuffle(out)
    return out


def plant(records: list[tuple[str, str, str]], benchmarks: list, every: int = 2000) -> int:
    """Copy a benchmark instruction or text into every ``every``-th record; returns how many."""
    rng = random.Random(1)
    n = 0
    for i in range(0, len(records), every):
        b = benchmarks[n % len(benchmarks)]
        _, text = rng.choice([t for t in b.texts if len(tokenize(t[1])) >= 2 * NGRAM])
        records[i] = (records[i][0], text, records[i][2])
        n += 1
    return n


def naive(records: list[tuple[str, str, str]], benchmarks: list, seconds: float) -> tuple[list[set[str]], float, int]:
    """The straightforward loop: every record against every item, sets of 13-gram tuples and rouge_score."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    def grams(text: str) -> set[tuple[str, ...]]:
        t = tokenize(text)
        return {tuple(t[i : i + NGRAM]) for i in range(len(t) - NGRAM + 1)}

    prepared = []
    for b in benchmarks:
        items: dict[int, set[tuple[str, ...]]] = {}
        for k, text in b.texts:
            items.setdefault(k, set()).update(grams(text))
        prepared.append((b, items))
    flagged: list[set[str]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for ins, inp, out in records:
        mine = grams(ins) | grams(inp) | grams(out)
        hit = set()
        for b, items in prepared:
            if any(mine & g for g in items.values()):
                hit.add(b.label)
                continue
            if any(scorer.score(t, ins)["rougeL"].fmeasure >= ROUGE_THRESHOLD for _, t in b.instructions):
                hit.add(b.label)
        flagged.append(hit)
        if time.perf_counter() - t0 >= seconds:
            break
    naive.cpu = time.process_time() - c0  # type: ignore[attr-defined]
    return flagged, time.perf_counter() - t0, len(flagged)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=52_000)
    ap.add_argument("--naive-seconds", type=float, default=60.0)
    ap.add_argument("--superni", type=Path, default=DATA / "superni")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    benchmarks = [
        load_benchmark("superni", a.superni),
        load_benchmark("user-oriented", DATA / "self-instruct" / "user_oriented_instructions.jsonl"),
    ]
    load_s = time.perf_counter() - t0
    records = make_records(a.records)
    planted = plant(records, benchmarks)
    t0, c0 = time.perf_counter(), time.process_time()
    hits = decontaminate(records, benchmarks)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    ours: list[set[str]] = [set() for _ in records]
    for h in hits:
        ours[h.index].add(h.benchmark)
    ref, ref_s, n_ref = naive(records, benchmarks, a.naive_seconds)
    mismatches = sum(ref[i] != ours[i] for i in range(n_ref))
    per_ref, per_ours = ref_s / n_ref, ours_s / len(records)
    res = {
        "records": len(records),
        "benchmarks": {
            b.label: {"items": len(b.items), "instructions": len(b.instructions), "texts": len(b.texts)}
            for b in benchmarks
        },  # fmt: skip
        "planted": planted,
        "flagged": len({h.index for h in hits}),
        "by_kind": {k: sum(h.kind == k for h in hits) for k in ("ngram", "rouge")},
        "load_seconds": round(load_s, 2),
        "ours_seconds": round(ours_s, 2),
        "ours_cpu_seconds": round(ours_cpu, 2),
        "naive_records": n_ref,
        "naive_seconds": round(ref_s, 2),
        "naive_projected_seconds": round(per_ref * len(records), 1),
        "naive_cpu_seconds": round(naive.cpu, 2),  # type: ignore[attr-defined]
        "ratio": round(per_ref / per_ours, 1),
        "ratio_cpu": round((naive.cpu / n_ref) / (ours_cpu / len(records)), 1),  # type: ignore[attr-defined]
        "mismatches_on_naive_records": mismatches,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    print(json.dumps(res, indent=2))
    if a.json:
        atomic_write(a.json, json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
