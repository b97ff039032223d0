"""Benchmark: how much each term of REFINE-AF's rule moves the reward, and what
``RewardConfig.reward_scale`` does to the reward's agreement with the quality audit.

Reads the ``scores.jsonl`` that ``instructforge score`` wrote and recombines the stored
components (Rew, Und, Nat, Coh) through ``feedback.reward.feedback_components`` under each
``reward_scale`` (raw, logit, standardize; all records as one batch), so the figures come from
the same code as ``score`` and RL, without asking the judge again. Prints, per term, the range
and standard deviation of ``coefficient * value``, and the Pearson / Spearman correlation of
each reward with the mean audit P(yes) (instruction, input, output questions).

    instructforge score --data DATA.json --out OUT --judge embedded
    .venv/bin/python benchmarks/reward_scale.py OUT/scores.jsonl

Prints figures only; it is not a timed test.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as st
from pathlib import Path

from instructforge.data.records import Triple
from instructforge.feedback.reward import RewardConfig, feedback_components
from instructforge.feedback.scorers import DIMENSIONS


class Stored:
    """A feedback scorer that answers with the scores ``score`` stored (no judge call)."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def score(self, triples: list[Triple]) -> dict[str, list[float]]:
        rew = self.rows[0]["rew_source"]
        return {d: [r["rew" if d == rew else d] for r in self.rows] for d in (rew, *DIMENSIONS)}


def pearson(a: list[float], b: list[float]) -> float:
    ma, mb = st.mean(a), st.mean(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    return num / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def ranks(a: list[float]) -> list[float]:
    order = sorted(range(len(a)), key=a.__getitem__)
    out = [0.0] * len(a)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and a[order[j + 1]] == a[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2  # ties share their mean rank
        i = j + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scores", type=Path, help="scores.jsonl written by instructforge score")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.scores.read_text().splitlines() if line.strip()]
    triples = [Triple(r["instruction"], r["input"], r["output"]) for r in rows]
    audit = [st.mean(q["p_yes"] for q in r["audit"].values() if q["p_yes"] is not None) for r in rows]
    base = RewardConfig()
    weights = {"rew": base.w_reward_model, **{d: getattr(base, f"w_{d}") for d in DIMENSIONS}}
    print(f"{len(rows)} records, Rew source {rows[0]['rew_source']}")
    for k, w in weights.items():
        t = [w * r[k] for r in rows]
        print(
            f"  {w:+.4f} * {k:17s} term {min(t):+.4f} .. {max(t):+.4f}  range {max(t) - min(t):.4f}  sd {st.pstdev(t):.4f}"
        )
    for scale in ("raw", "logit", "standardize"):
        cfg = RewardConfig(reward_scale=scale)
        reward = [c["total"] for c in feedback_components([Stored(rows)], triples, cfg)]
        print(
            f"  reward_scale={scale:11s} reward {min(reward):+.3f} .. {max(reward):+.3f} sd {st.pstdev(reward):.4f}"
            f"  pearson(audit) {pearson(reward, audit):+.3f}  spearman {pearson(ranks(reward), ranks(audit)):+.3f}"
        )
    for k in weights:
        v = [r[k] for r in rows]
        print(
            f"  {k:17s} alone  pearson(audit) {pearson(v, audit):+.3f}  spearman {pearson(ranks(v), ranks(audit)):+.3f}"
        )


if __name__ == "__main__":
    main()
