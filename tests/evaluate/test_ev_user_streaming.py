"""evaluate user-oriented with servers on both sides: every answer is judged as it arrives
(the judge's first request comes before the last answer), and the ratings do not depend on the
order answers arrive in. Two real HTTP servers (testing/fake_openai.py), in this process."""

from __future__ import annotations

import json
import re
import threading
import time

from instructforge import api
from instructforge.evaluate.user_oriented import LETTERS, UserOrientedConfig, load_items
from instructforge.testing.fake_openai import FakeOpenAIServer

N = 12


def _answer(text: str, body: dict) -> str:
    return f"ANSWER-{len(text.split())} words"


def _grade(text: str, body: dict) -> str:
    # the judge prompt quotes the answer: the letter follows from it, so any arrival order gives the same one
    words = int(re.search(r"ANSWER-(\d+)", text).group(1))
    return f"Rating: {LETTERS[words % 4]}"


def _evaluate(data, out, *, seed: int, events: list[tuple[str, float]]):
    lock = threading.Lock()

    def log(kind, fn):
        def respond(text, body):
            with lock:
                events.append((kind, time.perf_counter()))
            return fn(text, body)

        return respond

    with (
        FakeOpenAIServer(latency_range=(0.05, 0.3), seed=seed, responder=log("answer", _answer)) as model,
        FakeOpenAIServer(latency_range=(0.01, 0.05), seed=seed, responder=log("judge", _grade)) as judge,
    ):
        cfg = UserOrientedConfig(
            judge="openai:judge", judge_base_url=judge.url, judge_method="text", max_instructions=N
        )
        return api.evaluate_user_oriented(
            data, out=out, model="openai:model", base_url=model.url, concurrency=2, config=cfg
        )


def test_answers_are_judged_as_they_arrive(shared_data, tmp_path, isolated_cache, monkeypatch):
    data = shared_data / "self-instruct" / "user_oriented_instructions.jsonl"
    events: list[tuple[str, float]] = []
    res = _evaluate(data, tmp_path / "a", seed=1, events=events)
    answers = [t for k, t in events if k == "answer"]
    judged = [t for k, t in events if k == "judge"]
    assert len(answers) == N and len(judged) == N
    assert min(judged) < max(answers)  # overlap: judging started while answers were still coming
    assert res["generation"]["answers"]["requests"] == N and res["generation"]["judge"]["requests"] == N

    # the expected letters, computed from the answers the model gave
    items = load_items(data, N)
    rows = [json.loads(x) for x in (tmp_path / "a" / "ratings.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [it.id for it in items]
    for r in rows:
        words = int(re.search(r"ANSWER-(\d+)", r["response"]).group(1))
        assert r["rating"] == LETTERS[words % 4] and r["method"] == "text"

    # other latencies (so another arrival order), a fresh cache: the same files
    monkeypatch.setenv("INSTRUCTFORGE_CACHE_DIR", str(tmp_path / "cache2"))
    _evaluate(data, tmp_path / "b", seed=7, events=[])
    for name in ("ratings.jsonl",):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    a.pop("generation"), b.pop("generation")
    assert a == b


def test_one_model_answers_and_judges_on_one_stream(tmp_path):
    """``answer_and_judge(llm, llm, ...)``: one stream carries both roles (the executor's request
    ids are per stream, so a second stream on the same model would be wrong)."""
    from test_ev_user_oriented import JUDGE_RULES

    from conftest import write_rules
    from instructforge.evaluate.user_oriented import UserItem, answer_and_judge
    from instructforge.models.client import open_llm

    items = [UserItem(f"i{k}", f"Instruction number {k}.", "", "") for k in range(5)]
    answers = [{"contains": it.instruction, "response": f"RESP-{k} answer"} for k, it in enumerate(items)]
    llm = open_llm(f"scripted:{write_rules(tmp_path / 'rules.jsonl', JUDGE_RULES + answers)}", use_cache=False)
    got, ratings = answer_and_judge(llm, llm, items, UserOrientedConfig(judge_method="logprobs"))
    llm.close()
    assert [a.text for a in got] == [f"RESP-{k} answer" for k in range(5)]
    assert [r["rating"] for r in ratings] == ["A", "B", "C", "D", None]
    assert [r["method"] for r in ratings] == ["logprobs", "logprobs", "text", "text", "text"]
    assert len(llm.backend.history) == 5 + 5 + 3  # answers, first-token questions, text for three
