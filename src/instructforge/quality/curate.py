"""Curated exports: ``instructforge export RUN_DIR ... --min-score X --top-k N --audit valid
--drop-flagged`` keeps the records whose stored scores pass every rule (docs/score.md).

Rules apply in this order, each to what the earlier ones kept, and each counts what it removed:

1. ``unscored``: a generated record with no score, or whose score was computed for another
   text (always on when any rule is given; seed tasks are human-written and pass untouched);
2. ``flagged`` (``--drop-flagged``): any deterministic check failed (checks.py);
3. ``audit`` (``--audit valid``: all three audit answers yes, Self-Instruct's "all fields
   valid"; ``--audit instruction|input|output``: that answer yes);
4. ``min_score`` (``--min-score X``): the chosen score (``--score-field``, default the
   REFINE-AF reward) >= X; an undecided audit P(yes) is below every X;
5. ``top_k`` (``--top-k N``): the N highest by that score (ties: store order).

The kept records stay in store order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import write_json
from ..data.outdir import CURATION_SUFFIX, RUN_DB
from ..data.records import Triple
from ..data.runrecords import ScoreRecord, score_key
from ..data.store import RunStore
from ..feedback import audit
from .scoring import text_sha
from .summary import SCORE_FIELDS, score_value

AUDIT_CHOICES = ("valid", *audit.QUESTIONS)


@dataclass
class Curation:
    min_score: float | None = None
    score_field: str = "reward"  # one of summary.SCORE_FIELDS
    top_k: int | None = None
    audit: str | None = None  # valid | instruction | input | output
    drop_flagged: bool = False

    def __post_init__(self) -> None:
        if self.score_field not in SCORE_FIELDS:
            raise InputError(f"--score-field must be one of {', '.join(SCORE_FIELDS)}, not {self.score_field!r}")
        if self.audit is not None and self.audit not in AUDIT_CHOICES:
            raise InputError(f"--audit must be one of {', '.join(AUDIT_CHOICES)}, not {self.audit!r}")

    @property
    def active(self) -> bool:
        return self.min_score is not None or self.top_k is not None or self.audit is not None or self.drop_flagged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _audit_ok(rec: ScoreRecord, which: str) -> bool:
    return audit.all_valid(rec.audit_yes) if which == "valid" else rec.audit_yes.get(which) is True


def curate(
    rows: list[dict[str, Any]], scores: list[ScoreRecord], cur: Curation
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(kept export rows, records removed per rule). ``rows`` come from export.export_records."""
    by_key = {r.key: r for r in scores}

    def current(row: dict[str, Any]) -> ScoreRecord | None:
        rec = by_key.get(score_key(row["task_key"], row["index"]))
        sha = text_sha(Triple.from_dict(row))
        return rec if rec is not None and rec.text_sha == sha else None

    def value(rec: ScoreRecord | None) -> float:
        v = None if rec is None else score_value(rec, cur.score_field)
        return -math.inf if v is None else v

    rules: list[tuple[str, Any]] = [("unscored", lambda rec: rec is not None)]
    if cur.drop_flagged:
        rules.append(("flagged", lambda rec: not rec.flags))
    if cur.audit is not None:
        rules.append(("audit", lambda rec: _audit_ok(rec, cur.audit)))
    if cur.min_score is not None:
        rules.append(("min_score", lambda rec: value(rec) >= cur.min_score))
    kept = [(row, None if row.get("seed") else current(row)) for row in rows]
    removed: dict[str, int] = {}
    for name, ok in rules:
        before = len(kept)
        kept = [(row, rec) for row, rec in kept if row.get("seed") or ok(rec)]
        removed[name] = before - len(kept)
    if cur.top_k is not None:
        ranked = sorted(
            (i for i, (row, _) in enumerate(kept) if not row.get("seed")), key=lambda i: -value(kept[i][1])
        )  # stable: ties keep store order
        top = set(ranked[: cur.top_k])
        before = len(kept)
        kept = [kr for i, kr in enumerate(kept) if kr[0].get("seed") or i in top]
        removed["top_k"] = before - len(kept)
    return [row for row, _ in kept], removed


def curation_path(out: Path) -> Path:
    """Where the counts of a curated export go: next to it (``si.json`` -> ``si.curation.json``)."""
    return out.with_suffix(CURATION_SUFFIX)


def export_curated(
    store: RunStore, fmt: str, out: Path, include_seeds: bool, cur: Curation, drop: set[str] | None = None
) -> dict[str, Any]:
    """Write the curated export and its counts (``curation_path``); returns the counts.
    A run without scores is an InputError (exit 2) and nothing is written. ``drop``: the
    records (``task_key:index``) ``decontaminate`` flagged, left out first."""
    from ..selfinstruct.export import export_records, run_seed, write_records

    scores = store.scores()
    if not scores:
        raise InputError(
            f"{store.dir / RUN_DB}: the run has no scores; run `instructforge score "
            f"{store.dir}` before exporting with --min-score, --top-k, --audit or --drop-flagged"
        )
    rows = export_records(store, include_seeds)
    clean = [r for r in rows if r["seed"] or f"{r['task_key']}:{r['index']}" not in (drop or ())]
    kept, removed = curate(clean, scores, cur)
    if drop is not None:
        removed = {"contaminated": len(rows) - len(clean), **removed}
    n = write_records(kept, fmt, out, run_seed(store))
    meta = store.get_meta("score") or {}
    counts = {
        "run_dir": str(store.dir),
        "out": str(out),
        "format": fmt,
        "rules": cur.to_dict(),
        "records_before": len(rows),
        "records_after": n,
        "removed": removed,
        "seeds": sum(bool(r.get("seed")) for r in kept),
        "judge": meta.get("judge"),
        "rew_source": meta.get("rew_source"),
    }
    write_json(curation_path(out), counts)
    return counts
