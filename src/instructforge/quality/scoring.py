"""The scoring loop of ``instructforge score``: every accepted instance of a run store gets
REFINE-AF's automated feedback and linear-rule reward (arXiv 2505.06548, section 3.2, through
``feedback.reward.feedback_components``, the function RL's reward uses), Self-Instruct's quality
audit asked of the judge (Wang et al. 2023, section 3.3; audit.py) and the deterministic checks
(checks.py).

Resumable: instances go in chunks of ``ScoreConfig.chunk_size``; each chunk's scores are committed
in one transaction, so a kill loses at most the chunk in flight, and a rerun scores only what has
no stored score, or a stored score whose text or fingerprint (judge, reward model, config,
prompts) no longer matches. Model calls go through ``LLM.generate``, whose call cache makes a
repeated question free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.records import Triple
from ..data.runrecords import ScoreRecord, TaskRecord, score_key
from ..data.store import RunStore
from ..feedback import audit
from ..feedback.reward import feedback_components
from ..feedback.scorers import JudgeScorer
from . import checks
from .config import ScoreConfig, fingerprint


@dataclass(slots=True)
class Item:
    """One instance of an accepted task: what gets one score record."""

    task_key: str
    index: int
    triple: Triple

    @property
    def key(self) -> str:
        return score_key(self.task_key, self.index)

    @property
    def text_sha(self) -> str:
        return text_sha(self.triple)


def text_sha(t: Triple) -> str:
    return hashlib.sha256(f"{t.instruction}\x00{t.input}\x00{t.output}".encode()).hexdigest()[:16]


def task_items(tasks: Sequence[TaskRecord]) -> list[Item]:
    """Every instance of these tasks (accepted ones; a rejected task has no instances)."""
    return [Item(t.key, i, tr) for t in tasks if t.accepted for i, tr in enumerate(t.task().triples())]


def store_items(store: RunStore) -> list[Item]:
    """Every instance of every accepted task, in key order."""
    return task_items(store.tasks(accepted=True))


def is_current(rec: ScoreRecord | None, item: Item, fp: str) -> bool:
    return rec is not None and rec.text_sha == item.text_sha and rec.fingerprint == fp


@dataclass
class Scorer:
    """The feedback scorers (judge and/or reward model), the audit scorer and the config."""

    feedback: Sequence[Any]
    audit: JudgeScorer
    cfg: ScoreConfig
    fingerprint: str

    def score(self, items: Sequence[Item]) -> tuple[list[ScoreRecord], list[Item]]:
        """(score records, items whose judge requests failed: left unscored for a rerun)."""
        triples = [it.triple for it in items]
        comps = feedback_components(self.feedback, triples, self.cfg.reward)
        answers = self.audit.score(triples)
        judges = [s for s in (*self.feedback, self.audit) if isinstance(s, JudgeScorer)]
        out, failed = [], []
        for j, (it, comp) in enumerate(zip(items, comps, strict=True)):
            if any(s.failed[j] for s in judges if s.failed):
                failed.append(it)
                continue
            rew_source = "reward_model" if "reward_model" in comp else "overall"
            p = {q: answers[q][j] for q in audit.QUESTIONS}
            out.append(
                ScoreRecord(
                    key=it.key,
                    task_key=it.task_key,
                    index=it.index,
                    text_sha=it.text_sha,
                    fingerprint=self.fingerprint,
                    reward=comp["total"],
                    rew=comp[rew_source],
                    rew_source=rew_source,
                    naturalness=comp["naturalness"],
                    coherence=comp["coherence"],
                    understandability=comp["understandability"],
                    audit_p=p,
                    audit_yes={q: audit.answer(v, self.cfg.threshold) for q, v in p.items()},
                    flags=checks.run_checks(it.triple, self.cfg),
                )
            )
        return out, failed


SUBSTITUTE = "SUBSTITUTE: judge P(yes), overall quality"


def build_scorer(llm: Any, rm_dir: Path | None, cfg: ScoreConfig) -> tuple[Scorer, str]:
    """(the scorer, label of the Rew source) over the judge ``llm`` and, if given, the reward
    model in ``rm_dir`` (loaded here; check it first with feedback.reward_model_dir): the feedback
    scorers of ``feedback.factory.build_scorers``, judge first, plus the audit and the fingerprint."""
    from ..feedback.factory import build_scorers
    from ..feedback.scorers import PROMPTS

    feedback, _, _ = build_scorers(llm, rm_dir, top_logprobs=cfg.top_logprobs, judge_first=True)
    dims = next(s.dimensions for s in feedback if isinstance(s, JudgeScorer))
    rm_id = None
    if rm_dir is not None:
        rm_id = f"{rm_dir.resolve()}@{hashlib.sha256((rm_dir / 'config.json').read_bytes()).hexdigest()[:12]}"
    prompts = [PROMPTS / f"judge_{d}.txt" for d in dims] + audit.prompt_files()
    fp = fingerprint(llm.model_id, rm_id, cfg, prompts, checks.CHECKS_VERSION)
    label = f"reward model {rm_dir}" if rm_dir else SUBSTITUTE
    return Scorer(feedback, audit.audit_scorer(llm, cfg.top_logprobs), cfg, fp), label


def score_store(
    store: RunStore, scorer: Scorer, items: Sequence[Item], on_chunk: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Score the items that have no current score, one committed chunk at a time.

    Returns counts: ``items``, ``stored`` (already current), ``scored`` (now), ``failed``.
    ``on_chunk(done, total)`` is told after each commit.
    """
    stored = {r.key: r for r in store.scores()}
    todo = [it for it in items if not is_current(stored.get(it.key), it, scorer.fingerprint)]
    counts = {"items": len(items), "stored": len(items) - len(todo), "scored": 0, "failed": 0}
    size = scorer.cfg.chunk_size
    for start in range(0, len(todo), size):
        recs, failed = scorer.score(todo[start : start + size])
        store.write_scores(recs)
        counts["scored"] += len(recs)
        counts["failed"] += len(failed)
        if on_chunk is not None:
            on_chunk(min(start + size, len(todo)), len(todo))
    return counts


def current_scores(store: RunStore, items: Sequence[Item]) -> list[tuple[Item, ScoreRecord]]:
    """(item, its stored score) for the items whose stored score matches their text."""
    stored = {r.key: r for r in store.scores()}
    return [(it, stored[it.key]) for it in items if it.key in stored and stored[it.key].text_sha == it.text_sha]
