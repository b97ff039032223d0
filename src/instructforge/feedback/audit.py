"""The quality audit of Self-Instruct (Wang et al. 2023, section 3.3), asked of a judge model.

The paper had an expert review 200 generated instances with three yes/no questions (is the
instruction a valid task? is the input appropriate for it? is the output a correct and acceptable
response?) and reported the share of "yes" per question and with all fields valid. Here each
question is a prompt file (``prompts/audit_*.txt``, our wording) sent to the judge with
``temperature=0, max_tokens=1`` and top log-probabilities; the answer is the judge's P(yes)
(refine.feedback.yes_probability: every yes/no spelling among the top tokens) and "yes" when
P(yes) >= ``ScoreConfig.threshold``. A judge model is a substitute for the paper's expert.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.prompts import prompt_path, render
from ..data.records import Triple
from .scorers import JudgeScorer

QUESTIONS = ("instruction", "input", "output")
NO_INPUT = "(none)"

#: Self-Instruct's audit of 200 instances (share answering yes). 92% and 54% are also in
#: docs/methods.md; 79% and 58% are the paper's table only (not in docs/methods.md). The
#: source labels below are printed in summaries and reports.
PAPER_AUDIT = {"instruction": 0.92, "input": 0.79, "output": 0.58, "all": 0.54}
PAPER_AUDIT_SOURCE = {
    "instruction": "methods.md + paper",
    "input": "paper",
    "output": "paper",
    "all": "methods.md + paper",
}


def prompt_files() -> list[Path]:
    return [prompt_path(__package__, f"audit_{q}") for q in QUESTIONS]


def render_audit_prompt(question: str, t: Triple) -> str:
    """The yes/no question ``question`` (instruction | input | output) about one triple."""
    return render(
        __package__,
        f"audit_{question}",
        instruction=t.instruction.strip(),
        input=t.input.strip() or NO_INPUT,
        output=t.output.strip(),
    ).rstrip("\n")


def audit_scorer(llm: Any, top_logprobs: int = 20) -> JudgeScorer:
    """A JudgeScorer asking the three audit questions; undecided answers stay None."""
    return JudgeScorer(
        llm, QUESTIONS, top_logprobs=top_logprobs, neutral=None, render=render_audit_prompt, desc="audit"
    )


def answer(p_yes: float | None, threshold: float) -> bool | None:
    """Yes/no at the threshold; None when the judge gave neither yes nor no.

    >>> answer(0.5, 0.5), answer(0.49, 0.5), answer(None, 0.5)
    (True, False, None)
    """
    return None if p_yes is None else p_yes >= threshold


def all_valid(answers: dict[str, bool | None]) -> bool:
    """The paper's "all fields valid": every question answered yes."""
    return all(answers.get(q) is True for q in QUESTIONS)
