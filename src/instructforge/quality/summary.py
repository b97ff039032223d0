"""What a person reads about a scored dataset: score distributions, the audit table next to
Self-Instruct's figures (Wang et al. 2023, section 3.3), failed checks by reason and the lowest-
and highest-scoring records. ``instructforge score`` prints it and writes it as
``summary.json`` (plus one ``scores.jsonl`` row per record); ``instructforge report`` shows the
same data (reports/rundata.py calls ``score_section``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..data.runrecords import ScoreRecord
from ..feedback import audit
from .scoring import Item

#: the stored scores by name: what summaries chart and ``export --score-field`` filters on
#: what stands in for what the papers used (also in docs/score.md)
SUBSTITUTES = {
    "naturalness, coherence, understandability": "SUBSTITUTE: the judge's P(yes) to a yes/no question, for UniEval",
    "rew (rew_source overall)": "SUBSTITUTE: the judge's P(yes) to an overall-quality question, for the "
    "oasst-rm-pythia-1.4b reward model (rew_source reward_model: a real reward model)",
    "audit": "SUBSTITUTE: the judge's answers, for Self-Instruct's expert reviewer",
}
SCORE_FIELDS = (
    "reward",
    "rew",
    "naturalness",
    "coherence",
    "understandability",
    "p_instruction",
    "p_input",
    "p_output",
)
HIST_BINS = 20


def score_value(rec: ScoreRecord, name: str) -> float | None:
    """One named score of a record (audit P(yes) may be None: the judge was undecided)."""
    if name.startswith("p_"):
        return rec.audit_p.get(name[2:])
    return float(getattr(rec, name))


def row(item: Item, rec: ScoreRecord, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ``scores.jsonl`` line: the record's text and every score."""
    return {
        "key": rec.key,
        "task_key": rec.task_key,
        "index": rec.index,
        **(extra or {}),
        "instruction": item.triple.instruction,
        "input": item.triple.input,
        "output": item.triple.output,
        "reward": rec.reward,
        "rew": rec.rew,
        "rew_source": rec.rew_source,
        "naturalness": rec.naturalness,
        "coherence": rec.coherence,
        "understandability": rec.understandability,
        "audit": {q: {"p_yes": rec.audit_p.get(q), "yes": rec.audit_yes.get(q)} for q in audit.QUESTIONS},
        "all_valid": audit.all_valid(rec.audit_yes),
        "flags": [{"reason": f.reason, "detail": f.detail} for f in rec.flags],
    }


def audit_table(recs: Sequence[ScoreRecord]) -> dict[str, dict[str, Any]]:
    """Per question (and "all"): yes / no / undecided counts, the yes share, the paper's share."""
    n = len(recs)
    out = {}
    for q in (*audit.QUESTIONS, "all"):
        if q == "all":
            yes = sum(audit.all_valid(r.audit_yes) for r in recs)
            undecided = sum(any(r.audit_yes.get(x) is None for x in audit.QUESTIONS) for r in recs)
            no = n - yes - undecided
        else:
            vals = [r.audit_yes.get(q) for r in recs]
            yes, no, undecided = vals.count(True), vals.count(False), vals.count(None)
        out[q] = {
            "yes": yes,
            "no": no,
            "undecided": undecided,
            "share_yes": round(yes / n, 4) if n else None,
            "paper": audit.PAPER_AUDIT[q],
            "paper_source": audit.PAPER_AUDIT_SOURCE[q],
        }
    return out


def _stats(vals: list[float]) -> dict[str, Any]:
    if not vals:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "n": len(vals),
        "mean": round(statistics.fmean(vals), 4),
        "median": round(statistics.median(vals), 4),
        "min": round(min(vals), 4),
        "max": round(max(vals), 4),
    }


def _brief(item: Item, rec: ScoreRecord, chars: int = 300) -> dict[str, Any]:
    def clip(s: str) -> str:
        return s if len(s) <= chars else s[: chars - 1] + "\u2026"

    return {
        "key": rec.key,
        "reward": round(rec.reward, 4),
        "instruction": clip(item.triple.instruction),
        "input": clip(item.triple.input),
        "output": clip(item.triple.output),
        "audit_yes": dict(rec.audit_yes),
        "flags": [f.reason for f in rec.flags],
    }


def score_section(pairs: Sequence[tuple[Item, ScoreRecord]], items: int, k: int = 10) -> dict[str, Any]:
    """The summary of the scored records ``pairs`` out of ``items`` instances."""
    from ..core.stats import histogram  # report imports this module too: import when used

    recs = [r for _, r in pairs]
    dists = {}
    for name in SCORE_FIELDS:
        vals = [v for v in (score_value(r, name) for r in recs) if v is not None]
        bounded = name != "reward" and not (name == "rew" and any(r.rew_source == "reward_model" for r in recs))
        hist = (
            histogram(vals, HIST_BINS, 0.0, 1.0)
            if bounded
            else histogram(vals, HIST_BINS, min(vals, default=0.0), max(vals, default=1.0))
        )
        dists[name] = {**_stats(vals), "hist": hist}
    flags = Counter(f.reason for r in recs for f in r.flags)
    ranked = sorted(pairs, key=lambda p: (p[1].reward, p[1].key))
    sources = sorted({r.rew_source for r in recs})
    return {
        "available": bool(recs),
        "items": items,
        "scored": len(recs),
        "rew_source": sources[0] if len(sources) == 1 else sources,
        "substitutes": SUBSTITUTES,
        "distributions": dists,
        "audit": audit_table(recs),
        "checks": {"flagged_records": sum(bool(r.flags) for r in recs), "by_reason": dict(flags.most_common())},
        "lowest": [_brief(i, r) for i, r in ranked[:k]],
        "highest": [_brief(i, r) for i, r in ranked[::-1][:k]],
    }
