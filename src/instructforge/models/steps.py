"""Procedures that need model answers in several dependent steps, run side by side.

A procedure is a generator: it yields the requests of its next step, receives their
completions (same order) and finally returns its result. ``run_steps`` drives many of them at
once, sending the current step of every one through a single ``LLM.generate`` call, so the
client's window stays full across procedures instead of waiting for each one's steps in turn
(the Instruction Induction benchmark with ``--search`` runs 24 task searches as 4-5 calls).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, TypeVar

from .client import LLM
from .types import Completion, Request

T = TypeVar("T")
#: A procedure that needs model answers, written as a generator: it yields the requests of
#: its next step, receives their completions (same order), and returns its result.
Steps = Generator[list[Request], list[Completion], T]


def run_steps(llm: LLM, procedures: Sequence[Steps[Any]], desc: str = "generating") -> list[Any]:
    """Run several step procedures together: each round sends the next step of every one of
    them through one ``llm.generate`` call (one stream, so the window stays full), then hands
    each its answers."""
    results: list[Any] = [None] * len(procedures)
    pending: dict[int, list[Request]] = {}
    for i, proc in enumerate(procedures):
        try:
            pending[i] = next(proc)
        except StopIteration as done:
            results[i] = done.value
    while pending:
        flat = [r for reqs in pending.values() for r in reqs]
        comps = llm.generate(flat, desc=desc) if flat else []
        nxt: dict[int, list[Request]] = {}
        pos = 0
        for i, reqs in pending.items():
            part, pos = comps[pos : pos + len(reqs)], pos + len(reqs)
            try:
                nxt[i] = procedures[i].send(part)
            except StopIteration as done:
                results[i] = done.value
        pending = nxt
    return results
