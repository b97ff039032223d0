"""Typed records of a Self-Instruct run store (``run.sqlite``), one dataclass per record kind.

The store keeps each record as ``(kind, key, status, JSON payload)``; these classes are the only
place that knows the payload's field names. Stages, export, report and refine read and write
them through ``RunStore``'s typed methods (``candidates()``, ``tasks()``, ``put()`` ...).

- ``Candidate`` (kind ``candidate``): one instruction the bootstrap produced (paper section 2.2,
  step 1), accepted or rejected with its reason; steps 2 fills ``is_classification``.
- ``TaskRecord`` (kind ``task``): an accepted instruction with the instances that passed the
  step-4 filters, or rejected as a whole (``no_instances``, ``conflicting_outputs``...).
- ``InstanceRejection`` (kind ``instance_rejection``): one instance the step-4 filters dropped.
- ``ScoreRecord`` (kind ``score``): the automated feedback, audit and checks of one accepted
  instance (``instructforge score``, docs/score.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .records import Instance, Rejection, Task

ACCEPTED, REJECTED = "accepted", "rejected"


@dataclass(slots=True)
class Candidate:
    key: str
    instruction: str
    accepted: bool
    prompt_index: int = 0  # the bootstrap prompt it came from (older runs: their round)
    reason: str | None = None
    detail: str | None = None
    max_rouge_l: float | None = None  # to the most similar pool instruction at judging time
    most_similar: str | None = None
    is_classification: bool | None = None  # None until step 2 has classified it
    classify_answer: str | None = None
    input: str | None = None  # Alpaca mode: the generated triple's input and output
    output: str | None = None
    kind: ClassVar[str] = "candidate"

    @property
    def status(self) -> str:
        return ACCEPTED if self.accepted else REJECTED

    def payload(self) -> dict[str, Any]:
        p: dict[str, Any] = {
            "instruction": self.instruction,
            "prompt": self.prompt_index,
            "reason": self.reason,
            "detail": self.detail,
            "max_rouge_l": self.max_rouge_l,
            "most_similar": self.most_similar,
        }
        if self.is_classification is not None:
            p["is_classification"] = self.is_classification
            p["classify_answer"] = self.classify_answer
        if self.output is not None:
            p["input"], p["output"] = self.input or "", self.output
        return p

    @classmethod
    def from_row(cls, key: str, status: str, p: dict[str, Any]) -> Candidate:
        clf = p.get("is_classification")
        return cls(
            key=key,
            instruction=str(p.get("instruction", "")),
            accepted=status == ACCEPTED,
            prompt_index=int(p.get("prompt", p.get("round", 0)) or 0),
            reason=p.get("reason"),
            detail=p.get("detail"),
            max_rouge_l=p.get("max_rouge_l"),
            most_similar=p.get("most_similar"),
            is_classification=None if clf is None else bool(clf),
            classify_answer=p.get("classify_answer"),
            input=p.get("input"),
            output=p.get("output"),
        )


@dataclass(slots=True)
class TaskRecord:
    key: str
    instruction: str
    accepted: bool
    instances: list[Instance] = field(default_factory=list)
    is_classification: bool = False
    reason: str | None = None
    detail: str | None = None
    kind: ClassVar[str] = "task"

    @property
    def status(self) -> str:
        return ACCEPTED if self.accepted else REJECTED

    def task(self) -> Task:
        return Task(
            instruction=self.instruction,
            instances=list(self.instances),
            is_classification=self.is_classification,
            id=self.key,
        )

    def payload(self) -> dict[str, Any]:
        p = self.task().to_dict()
        if self.reason is not None:
            p.update(reason=self.reason, detail=self.detail)
        return p

    @classmethod
    def from_row(cls, key: str, status: str, p: dict[str, Any]) -> TaskRecord:
        t = Task.from_dict(p)
        return cls(
            key=key,
            instruction=t.instruction,
            accepted=status == ACCEPTED,
            instances=t.instances,
            is_classification=t.is_classification,
            reason=p.get("reason"),
            detail=p.get("detail"),
        )


@dataclass(slots=True)
class InstanceRejection:
    key: str
    task_key: str
    input: str
    output: str
    reason: str
    detail: str = ""
    kind: ClassVar[str] = "instance_rejection"
    status: ClassVar[str] = REJECTED

    def payload(self) -> dict[str, Any]:
        return {
            "task_key": self.task_key,
            "input": self.input,
            "output": self.output,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_row(cls, key: str, status: str, p: dict[str, Any]) -> InstanceRejection:
        return cls(
            key=key,
            task_key=str(p.get("task_key", "")),
            input=str(p.get("input", "")),
            output=str(p.get("output", "")),
            reason=str(p.get("reason", "")),
            detail=str(p.get("detail") or ""),
        )


@dataclass(slots=True)
class ScoreRecord:
    """The scores of one instance of an accepted task; key = ``score_key(task_key, index)``.

    ``text_sha`` and ``fingerprint`` tell whether a stored score still applies: a record whose
    text changed, or that another judge or scoring config produced, is scored again.
    """

    key: str
    task_key: str
    index: int  # the instance's position in its task
    text_sha: str  # sha256 of instruction, input and output
    fingerprint: str  # judge identity + reward model + scoring config + prompts
    reward: float  # REFINE-AF's linear rule over the components below
    rew: float  # Rew: the reward model's score, or the judge's P(yes) standing in for it
    rew_source: str  # "reward_model" | "overall" (the judge substitute)
    naturalness: float
    coherence: float
    understandability: float
    audit_p: dict[str, float | None] = field(default_factory=dict)  # question -> judge's P(yes)
    audit_yes: dict[str, bool | None] = field(default_factory=dict)  # P(yes) >= threshold; None: undecided
    flags: list[Rejection] = field(default_factory=list)  # deterministic checks that failed
    kind: ClassVar[str] = "score"
    status: ClassVar[str] = "scored"

    def payload(self) -> dict[str, Any]:
        return {
            "task_key": self.task_key,
            "index": self.index,
            "text_sha": self.text_sha,
            "fingerprint": self.fingerprint,
            "reward": self.reward,
            "rew": self.rew,
            "rew_source": self.rew_source,
            "naturalness": self.naturalness,
            "coherence": self.coherence,
            "understandability": self.understandability,
            "audit_p": dict(self.audit_p),
            "audit_yes": dict(self.audit_yes),
            "flags": [{"reason": f.reason, "detail": f.detail} for f in self.flags],
        }

    @classmethod
    def from_row(cls, key: str, status: str, p: dict[str, Any]) -> ScoreRecord:
        return cls(
            key=key,
            task_key=str(p.get("task_key", "")),
            index=int(p.get("index", 0)),
            text_sha=str(p.get("text_sha", "")),
            fingerprint=str(p.get("fingerprint", "")),
            reward=float(p["reward"]),
            rew=float(p["rew"]),
            rew_source=str(p.get("rew_source", "")),
            naturalness=float(p["naturalness"]),
            coherence=float(p["coherence"]),
            understandability=float(p["understandability"]),
            audit_p=dict(p.get("audit_p") or {}),
            audit_yes=dict(p.get("audit_yes") or {}),
            flags=[Rejection(str(f.get("reason", "")), str(f.get("detail") or "")) for f in p.get("flags") or []],
        )


def score_key(task_key: str, index: int) -> str:
    """The key of instance ``index`` of a task; task keys are opaque, the index is padded so
    keys sort in instance order.

    >>> score_key("r00000.00.01", 2)
    'r00000.00.01#002'
    """
    return f"{task_key}#{index:03d}"


RunRecord = Candidate | TaskRecord | InstanceRejection
