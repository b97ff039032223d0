"""Executing instructions and scoring them (Honovich et al. 2023, section 4.1).

Each (instruction, test input) pair becomes the prompt ``Instruction: ...\\nInput: ...\\nOutput:``,
decoded greedily for at most 30 tokens. Only the first line up to the first "." of the answer
is ever scored, so decoding stops at "\\n" or "." to save time; an answer that is empty before
its first newline is decoded again without the "\\n" stop. The scored text is therefore exactly
what full 30-token decoding would give (greedy decoding is a prefix-stable process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..core.prompts import render
from ..core.settings import option, validate
from ..models.client import LLM
from ..models.steps import Steps, run_steps
from ..models.types import Request, SamplingParams
from .benchmark import TestItem
from .induce import make_request
from .metrics import mean, score


@dataclass
class ExecuteConfig:
    """Settings of the execution call; defaults are the paper's."""

    max_tokens: int = option(30, "Answer length in new tokens (paper: 30)", min=1, max=4096)
    temperature: float = option(0.0, "Execution sampling temperature (paper: greedy)", min=0, max=2)
    # Literal rather than choices=: config.check rejects None for a field with choices.
    prompt_format: Literal["raw", "chat"] | None = option(
        None, "raw: a completion prompt (paper); chat: one user message; null: the induction's prompt format"
    )
    early_stop: bool = option(
        True,
        "Stop decoding at a newline or '.' (scores unchanged: only the first line up "
        "to its first '.' is scored, see execute.py)",
    )
    seed: int = option(0, "Request seed (matters only when sampling)")

    def __post_init__(self) -> None:
        validate(self)


def render_execute_prompt(instruction: str, input_text: str) -> str:
    return render(__package__, "execute", instruction=instruction, input=input_text)


def execute_steps(pairs: Sequence[tuple[str, str]], cfg: ExecuteConfig | None = None) -> Steps[list[str]]:
    """Answers for (instruction, input) pairs; identical pairs are sent once."""
    cfg = cfg or ExecuteConfig()
    prompts = [render_execute_prompt(i, x) for i, x in pairs]
    # Similar lengths batch together with less padding; answers are mapped back by prompt.
    unique = sorted(dict.fromkeys(prompts), key=len)

    def requests(texts: list[str], stop: tuple[str, ...]) -> list[Request]:
        params = SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens, stop=stop)
        return [make_request(t, params, cfg.prompt_format or "raw", cfg.seed) for t in texts]

    stops: tuple[str, ...] = ("\n", ".") if cfg.early_stop else ()
    comps = yield requests(unique, stops)
    answers = {p: c.text for p, c in zip(unique, comps, strict=True)}
    if cfg.early_stop:
        # An answer that opens with a blank line: the scored line is a later one.
        again = [p for p, a in answers.items() if not a.strip()]
        if again:
            comps = yield requests(again, (".",))
            answers.update((p, c.text) for p, c in zip(again, comps, strict=True))
    return [answers[p] for p in prompts]


def execute(
    llm: LLM, pairs: Sequence[tuple[str, str]], cfg: ExecuteConfig | None = None, desc: str = "executing"
) -> list[str]:
    """Answers for (instruction, input) pairs; identical pairs are sent once."""
    answers: list[str] = run_steps(llm, [execute_steps(pairs, cfg)], desc)[0]
    return answers


@dataclass
class InstructionScore:
    text: str
    count: int
    accuracy: float
    predictions: list[str]


@dataclass
class Job:
    """Distinct instructions (with counts) to run on one task's test items."""

    instructions: dict[str, int]
    items: list[TestItem]
    metric: str


def score_jobs(
    llm: LLM, jobs: Sequence[Job], cfg: ExecuteConfig | None = None, desc: str = "executing"
) -> list[list[InstructionScore]]:
    """Execute every job's instructions on its items in one batched call; mean score per instruction."""
    pairs = [(ins, it.input) for job in jobs for ins in job.instructions for it in job.items]
    answers = iter(execute(llm, pairs, cfg, desc=desc))
    out = []
    for job in jobs:
        scored = []
        for ins, count in job.instructions.items():
            preds = [next(answers) for _ in job.items]
            acc = mean(score(p, it.answers, job.metric) for p, it in zip(preds, job.items, strict=True))
            scored.append(InstructionScore(ins, count, acc, preds))
        out.append(scored)
    return out
