"""User-oriented evaluation with the scripted backend: answers, judge logprobs and text fallback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import run_cli, write_rules
from instructforge.evaluate.user_oriented import (
    UserItem,
    UserOrientedConfig,
    judge_answers,
    letter_from_text,
    letter_probs,
    load_items,
    render_judge,
    render_request,
)
from instructforge.models.client import open_llm

GOLDEN = Path(__file__).with_name("golden")

# The judge prompt quotes the answer, so judge rules key on the answer text and come first.
JUDGE_RULES = [
    {"contains": "RESP-0 ", "response": "A", "top_logprobs": [{"A": -0.1, "B": -2.5, "The": -4.0}]},
    {"contains": "RESP-1 ", "response": "B", "top_logprobs": [{" B": -0.3, "b": -1.0, "A": -1.5}]},
    {"contains": "RESP-2 ", "response": "Rating: C, the list is wrong."},  # no logprobs: text
    {"contains": "RESP-3 ", "response": "The grade is D", "top_logprobs": [{"The": -0.1, "This": -0.5}]},
    {"contains": "RESP-4 ", "response": "I cannot decide."},  # unparsed
]


def answer_rules(items: list[UserItem]) -> list[dict]:
    return [{"contains": it.instruction, "response": f"RESP-{k} answer"} for k, it in enumerate(items)]


def test_cli_exact_distribution(shared_data, tmp_path, isolated_cache):
    data = shared_data / "self-instruct" / "user_oriented_instructions.jsonl"
    items = load_items(data, 5)
    rules = write_rules(tmp_path / "rules.jsonl", JUDGE_RULES + answer_rules(items))
    log = tmp_path / "log.jsonl"
    out = tmp_path / "uo"
    r = run_cli(
        "evaluate",
        "user-oriented",
        "--data",
        str(data),
        "--model",
        f"scripted:{rules}",
        "--judge",
        f"scripted:{rules}",
        "--out",
        str(out),
        "--max-instructions",
        "5",
        env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
        check=True,
    )
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "user-oriented" and res["n"] == 5
    assert res["distribution"] == {"A": 1, "B": 1, "C": 1, "D": 1} and res["unparsed"] == 1
    assert res["methods"] == {"logprobs": 2, "text": 3}
    rows = [json.loads(x) for x in (out / "ratings.jsonl").read_text().splitlines()]
    assert [r["rating"] for r in rows] == ["A", "B", "C", "D", None]
    pa = math.exp(-0.1) / (math.exp(-0.1) + math.exp(-2.5))
    assert rows[0]["probs"]["A"] == pytest.approx(pa, abs=1e-6)
    assert rows[0]["letter_mass"] == pytest.approx(math.exp(-0.1) + math.exp(-2.5), abs=1e-6)
    assert rows[2]["letter_mass"] is None and rows[2]["judge_text"].startswith("Rating: C")
    pb = (math.exp(-0.3) + math.exp(-1.0)) / (math.exp(-0.3) + math.exp(-1.0) + math.exp(-1.5))
    assert rows[1]["probs"]["B"] == pytest.approx(pb, abs=1e-6)
    sent = [json.loads(x) for x in log.read_text().splitlines()]
    answers = [s for s in sent if s["params"]["logprobs"] is None and s["params"]["max_tokens"] == 512]
    first_token = [s for s in sent if s["params"]["logprobs"] == 20]
    assert len(answers) == 5 and all(s["params"]["temperature"] == 0 for s in answers)
    assert len(first_token) == 5 and all(s["params"]["max_tokens"] == 1 for s in first_token)
    assert len(sent) == 5 + 5 + 3  # the text fallback only for the three without letter logprobs
    assert "A 1  B 1  C 1  D 1" in r.stdout


def test_text_method_never_asks_for_logprobs(tmp_path):
    items = [UserItem(f"i{k}", f"Instruction number {k}.", "", "") for k in range(5)]
    rules = write_rules(tmp_path / "rules.jsonl", JUDGE_RULES)
    judge = open_llm(f"scripted:{rules}", use_cache=False)
    ratings = judge_answers(judge, items, [f"RESP-{k} x" for k in range(5)], UserOrientedConfig(judge_method="text"))
    # text only: the logprobs rules answer "A" / "B" / "The grade is D" as text
    assert [r["rating"] for r in ratings] == ["A", "B", "C", "D", None]
    assert all(r["method"] == "text" for r in ratings)
    assert all(req.params.logprobs is None for req in judge.backend.history)


@pytest.mark.parametrize(
    "text,letter",
    [
        ("A", "A"),
        (" b", None),
        ("B.", "B"),
        ("(C)", "C"),
        ("**D**", "D"),
        ("Rating: B", "B"),
        ("A good answer, overall.", None),
        ("I would grade it C.", "C"),
        ("Answer: A - correct", "A"),
        ("", None),
    ],
)
def test_letter_from_text(text, letter):
    assert letter_from_text(text) == letter


def test_letter_probs_sums_variants_and_ignores_other_tokens():
    p = letter_probs([{" A": math.log(0.2), "A": math.log(0.1), "C": math.log(0.3), "Hello": math.log(0.4)}])
    assert p == pytest.approx({"A": 0.5, "B": 0.0, "C": 0.5, "D": 0.0})
    assert letter_probs([{"Hello": -0.1}]) is None and letter_probs(None) is None


def test_bad_data_exit_2(tmp_path):
    bad = tmp_path / "uo.jsonl"
    bad.write_text('{"id": "a", "instruction": "Say hi.", "instances": [{"input": "", "output": "hi"}]}\n{"id": "b"}\n')
    out = tmp_path / "out"
    r = run_cli(
        "evaluate", "user-oriented", "--data", str(bad), "--model", "embedded", "--judge", "embedded", "--out", str(out)
    )
    assert r.returncode == 2 and 'uo.jsonl:2: needs a non-empty "instruction"' in r.stderr and not out.exists()


def test_prompt_golden():
    it = UserItem("x", "Turn the list of fruits into one friendly sentence.", "apples, pears, plums", "")
    assert render_request(it) == (GOLDEN / "user_oriented_answer.txt").read_text()
    it2 = UserItem("y", "Suggest a name for a bakery that sells only bread.", "", "")
    assert render_request(it2) == (GOLDEN / "user_oriented_answer_no_input.txt").read_text()
    assert (
        render_judge(it, "Apples, pears and plums make a fine basket.")
        == (GOLDEN / "user_oriented_judge.txt").read_text()
    )
