"""Procedures that need model answers in several dependent steps, run side by side.

A procedure is a generator: it yields the requests of its next step, receives their
completions (same order) and finally returns its result. ``run_steps`` drives many of them at
once, sending the current step of every one through a single ``LLM.generate`` call, so the
client's window stays full across procedures instead of waiting for each one's steps in turn
(the Instruction Induction benchmark with ``--search`` runs 24 task searches as 4-5 calls).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .client import LLM
from .types import Completion, Request

T = TypeVar("T")


class On(list[Request]):
    """A step meant for another model than the procedure's own: ``yield On("execute", requests)``;
    ``run_steps(..., models={"execute": other_llm})`` sends it there (without that name: to the
    default model). Still a list of the requests, so a procedure that only counts them need not care."""

    def __init__(self, target: str, requests: Sequence[Request]):
        super().__init__(requests)
        self.target = target


#: A procedure that needs model answers, written as a generator: it yields the requests of
#: its next step, receives their completions (same order), and returns its result.
Steps = Generator[list[Request], list[Completion], T]


@dataclass
class _Part:
    proc: int
    requests: list[Request]


def on(target: str, proc: Steps[T]) -> Steps[T]:
    """``proc`` with every step it yields addressed to the model ``target`` (see ``On``)."""
    try:
        reqs = next(proc)
        while True:
            reqs = proc.send((yield On(target, reqs)))
    except StopIteration as done:
        result: T = done.value
        return result


def run_steps(
    llm: LLM, procedures: Sequence[Steps[Any]], desc: str = "generating", models: Mapping[str, LLM] | None = None
) -> list[Any]:
    """Run several step procedures together: each round sends the next step of every one of
    them through one ``generate`` call per model (one stream each, so the window stays full),
    then hands each its answers. ``models``: where ``On(name, ...)`` steps go."""
    models = models or {}
    results: list[Any] = [None] * len(procedures)
    pending: dict[int, list[Request]] = {}
    for i, proc in enumerate(procedures):
        try:
            pending[i] = next(proc)
        except StopIteration as done:
            results[i] = done.value
    while pending:
        by_model: dict[int, tuple[LLM, list[_Part]]] = {}
        for i, reqs in pending.items():
            target = models.get(reqs.target, llm) if isinstance(reqs, On) else llm
            by_model.setdefault(id(target), (target, []))[1].append(_Part(i, list(reqs)))
        answers: dict[int, list[Completion]] = {}
        for target, parts in by_model.values():
            flat = [r for p in parts for r in p.requests]
            comps = target.generate(flat, desc=desc) if flat else []
            pos = 0
            for p in parts:
                answers[p.proc], pos = comps[pos : pos + len(p.requests)], pos + len(p.requests)
        nxt: dict[int, list[Request]] = {}
        for i in pending:
            try:
                nxt[i] = procedures[i].send(answers[i])
            except StopIteration as done:
                results[i] = done.value
        pending = nxt
    return results
