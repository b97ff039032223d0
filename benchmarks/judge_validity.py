"""Benchmark: can ``instructforge score``'s judge tell good records from broken ones?

Known-good records are Self-Instruct's seed tasks (one instance each); each is also corrupted in
five ways: ``output_swapped`` (the output of another task), ``input_removed`` (only tasks that have
an input), ``instruction_truncated`` (the first third of its words), ``output_repeated`` (the
output three times, one copy per line) and ``output_garbled`` (words shuffled, letters of each
word reversed). Every record is scored by the same code as ``instructforge score``
(quality/scoring.py: REFINE-AF feedback + linear rule, the three audit P(yes), the deterministic
checks). For each score the AUROC of separating good (positive) from corrupted records is
reported overall and per corruption (0.5 = chance; higher score = judged better; an undecided
P(yes) counts as 0.5; the checks count as a 0/1 score: 1 = no check failed).

    .venv/bin/python benchmarks/judge_validity.py --judge embedded --n 100 \\
        --out benchmarks/results/judge_validity.json
    .venv/bin/python benchmarks/judge_validity.py --judge openai:MODEL --base-url URL

Prints figures and ratios only; it is not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from instructforge.core.io import atomic_write
from instructforge.data.records import Triple
from instructforge.feedback.audit import PAPER_AUDIT, all_valid
from instructforge.feedback.scorers import reward_model_dir
from instructforge.models.backends import BackendOptions
from instructforge.models.client import open_llm
from instructforge.quality.checks import REASONS
from instructforge.quality.config import ScoreConfig
from instructforge.quality.scoring import Item, build_scorer
from instructforge.quality.summary import SCORE_FIELDS, score_value
from instructforge.selfinstruct.seeds import PACKAGED_SEEDS, load_seeds

ROOT = Path(__file__).resolve().parents[1]
SHARED_SEEDS = ROOT.parent / "shared" / "data" / "self-instruct" / "seed_tasks.jsonl"
CORRUPTIONS = ("output_swapped", "input_removed", "instruction_truncated", "output_repeated", "output_garbled")


def corrupt(good: list[Triple], rng: random.Random) -> dict[str, list[Triple]]:
    """Every corruption of the good records (input_removed only where there is an input)."""
    n = len(good)
    shift = rng.randrange(1, n)  # a derangement: record i takes the output of record i + shift
    out: dict[str, list[Triple]] = {c: [] for c in CORRUPTIONS}
    for i, t in enumerate(good):
        other = good[(i + shift) % n].output
        if other.strip() != t.output.strip():
            out["output_swapped"].append(Triple(t.instruction, t.input, other))
        if t.input.strip():
            out["input_removed"].append(Triple(t.instruction, "", t.output))
        words = t.instruction.split()
        cut = " ".join(words[: max(2, len(words) // 3)]).rstrip(".,;:!?")
        if len(cut.split()) < len(words):
            out["instruction_truncated"].append(Triple(cut, t.input, t.output))
        out["output_repeated"].append(Triple(t.instruction, t.input, "\n".join([t.output.strip()] * 3)))
        garbled = [w[::-1] for w in t.output.split()]
        rng.shuffle(garbled)
        out["output_garbled"].append(Triple(t.instruction, t.input, " ".join(garbled)))
    return out


def auroc(pos: list[float], neg: list[float]) -> float | None:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney U / (n_pos n_neg)).

    >>> auroc([0.9, 0.8], [0.1, 0.8])
    0.875
    """
    if not pos or not neg:
        return None
    ranked = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += sum(lab for _, lab in ranked[i:j]) * (i + j + 1) / 2
        i = j
    return round((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)), 4)


def score_names() -> list[str]:
    return [*SCORE_FIELDS, "checks_pass", *(f"check:{r}" for r in REASONS)]


def value(rec: Any, name: str) -> float:
    if name == "checks_pass":
        return 0.0 if rec.flags else 1.0
    if name.startswith("check:"):
        return 0.0 if any(f.reason == name[6:] for f in rec.flags) else 1.0
    v = score_value(rec, name)
    return 0.5 if v is None else v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default="embedded")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--reward-model", default=None, help="hf:DIR (default: the judge substitute, as in score)")
    ap.add_argument("--seeds", type=Path, default=SHARED_SEEDS if SHARED_SEEDS.is_file() else PACKAGED_SEEDS)
    ap.add_argument("--n", type=int, default=100, help="seed tasks sampled (seeded); 0 = all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=64, help="records per LLM.generate round")
    ap.add_argument("--cache", type=Path, default=None, help="call-cache file (default: the user cache)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "judge_validity.json")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    tasks = load_seeds(a.seeds)
    if a.n and a.n < len(tasks):
        tasks = rng.sample(tasks, a.n)
    good = [Triple(t.instruction, t.instances[0].input, t.instances[0].output) for t in tasks]
    groups = {"good": good, **corrupt(good, rng)}
    items = [Item(f"{g}:{i}", 0, t) for g, ts in groups.items() for i, t in enumerate(ts)]
    cfg = ScoreConfig()
    rm_dir = reward_model_dir(a.reward_model) if a.reward_model else None
    llm = open_llm(a.judge, BackendOptions(base_url=a.base_url, batch_size=a.batch_size), cache_path=a.cache)
    scorer, label = build_scorer(llm, rm_dir, cfg)
    print(
        f"{len(items)} records ({', '.join(f'{g} {len(ts)}' for g, ts in groups.items())}); judge {a.judge}; "
        f"Rew = {label}",
        flush=True,
    )
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    recs = []
    for start in range(0, len(items), a.chunk):
        done, failed = scorer.score(items[start : start + a.chunk])
        if failed:
            raise SystemExit(f"{len(failed)} judge requests failed")
        recs.extend(done)
        print(f"  {len(recs)}/{len(items)} scored, {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    llm.close()
    by_group: dict[str, list[Any]] = {}
    for it, rec in zip(items, recs, strict=True):
        by_group.setdefault(it.task_key.split(":")[0], []).append(rec)
    table: dict[str, dict[str, float | None]] = {}
    for name in score_names():
        pos = [value(r, name) for r in by_group["good"]]
        row = {"overall": auroc(pos, [value(r, name) for c in CORRUPTIONS for r in by_group[c]])}
        row.update({c: auroc(pos, [value(r, name) for r in by_group[c]]) for c in CORRUPTIONS})
        table[name] = row
    means = {
        g: {n: round(sum(value(r, n) for r in rs) / len(rs), 4) for n in SCORE_FIELDS} for g, rs in by_group.items()
    }
    yes_share = {
        g: {
            q: round(sum(r.audit_yes.get(q) is True for r in rs) / len(rs), 4)
            for q in ("instruction", "input", "output")
        }
        | {"all": round(sum(all_valid(r.audit_yes) for r in rs) / len(rs), 4)}
        for g, rs in by_group.items()
    }
    result = {
        "judge": a.judge,
        "judge_id": llm.model_id,
        "rew_source": label,
        "seeds_file": str(a.seeds),
        "n_seeds": len(good),
        "sample_seed": a.seed,
        "records": {g: len(v) for g, v in groups.items()},
        "seconds": round(seconds, 1),
        "seconds_per_record": round(seconds / len(items), 3),
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "model_calls": llm.stats.as_dict(),
        "threshold": cfg.threshold,
        "auroc": table,
        "mean_scores": means,
        "audit_yes_share": yes_share,
        "paper_audit": PAPER_AUDIT,
    }
    atomic_write(a.out, json.dumps(result, indent=2) + "\n")
    cols = ["overall", *CORRUPTIONS]
    print(f"\nAUROC, good vs corrupted ({len(good)} seeds, judge {a.judge}, {seconds:.0f} s)")
    print(f"{'score':28s}" + "".join(f"{c[:13]:>14s}" for c in cols))
    for name, row in table.items():
        print(f"{name:28s}" + "".join(f"{'-' if row[c] is None else format(row[c], '.3f'):>14s}" for c in cols))
    print(
        "audit yes share (threshold 0.5): "
        + "; ".join(f"{g} {v['all']:.2f} all valid" for g, v in yes_share.items())
        + f" (paper: {PAPER_AUDIT['all']:.2f})"
    )
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
