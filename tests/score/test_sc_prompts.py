"""Golden files: the audit prompts as rendered, and P(yes) parsed from top log-probabilities
(directly and through the judge of a real scripted backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_rules
from instructforge.data.records import Triple
from instructforge.feedback.audit import QUESTIONS, answer, audit_scorer, render_audit_prompt
from instructforge.feedback.scorers import yes_probability

GOLDEN = Path(__file__).parent / "golden"
T = Triple("Give an antonym of the word.", "cold", "hot")
T0 = Triple("Name a primary color.", "", "Red.")
CASES = json.loads((GOLDEN / "p_yes.json").read_text())


@pytest.mark.parametrize("question", QUESTIONS)
def test_sc_audit_prompt_golden(question):
    want = (GOLDEN / f"audit_{question}.txt").read_text()
    assert render_audit_prompt(question, T) + "\n=====\n" + render_audit_prompt(question, T0) + "\n" == want


def test_sc_audit_prompts_ask_what_the_paper_asked():
    # Self-Instruct's review: valid task? input appropriate? output correct and acceptable?
    assert "valid task" in render_audit_prompt("instruction", T)
    assert "input appropriate" in render_audit_prompt("input", T)
    assert "correct and acceptable" in render_audit_prompt("output", T)
    assert "Response" not in render_audit_prompt("instruction", T)  # the instruction is judged alone


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_sc_p_yes_golden(case):
    p = yes_probability(case["top_logprobs"])
    if case["p_yes"] is None:
        assert p is None
    else:
        assert p == pytest.approx(case["p_yes"], abs=1e-12)
    assert answer(p, 0.5) is case["yes_at_0.5"] and answer(p, 0.7) is case["yes_at_0.7"]


def test_sc_audit_scorer_reads_first_token_logprobs(tmp_path, isolated_cache):
    """The audit through a real (scripted) backend: one request per question with max_tokens=1
    and top log-probs, P(yes) as in the golden cases, undecided kept as None."""
    from instructforge.models.client import open_llm

    by_case = {c["case"]: c for c in CASES}
    rules = [
        {"contains": "valid task", "response": "x", "top_logprobs": [by_case["spellings summed"]["top_logprobs"]]},
        {"contains": "input appropriate", "response": "x", "top_logprobs": [by_case["only no"]["top_logprobs"]]},
        {"contains": "correct and acceptable", "response": "x", "top_logprobs": [by_case["neither"]["top_logprobs"]]},
    ]
    llm = open_llm(f"scripted:{write_rules(tmp_path / 'r.jsonl', rules)}", use_cache=False)
    try:
        s = audit_scorer(llm, top_logprobs=20)
        got = s.score([T, T0])
        reqs = llm.backend.history
    finally:
        llm.close()
    assert got["instruction"] == pytest.approx([by_case["spellings summed"]["p_yes"]] * 2)
    assert got["input"] == [0.0, 0.0] and got["output"] == [None, None]
    assert s.undecided == 2 and s.failed == [False, False]
    assert len(reqs) == 6 and all(
        r.params.max_tokens == 1 and r.params.logprobs == 20 and r.params.temperature == 0 for r in reqs
    )
    assert sorted(r.messages[-1][1] for r in reqs) == sorted(
        render_audit_prompt(q, t) for q in QUESTIONS for t in (T, T0)
    )
