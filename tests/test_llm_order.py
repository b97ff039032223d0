"""LLM.generate hands cache misses to the executor shortest prompt first (so engine batches hold
prompts of similar length) and still returns completions in the caller's order; the stream
dispatches by priority and keeps a batch backend's batches to what was queued when it was free."""

from __future__ import annotations

from instructforge.models.backends.base import Backend
from instructforge.models.client import LLM
from instructforge.models.executors import LocalExecutor
from instructforge.models.types import Completion, Request


class RecordingBackend(Backend):
    kind = "recording"
    batch_size = 2

    def __init__(self):
        self.batches: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return "recording"

    def generate(self, requests):
        self.batches.append([r.messages[-1][1] for r in requests])
        return [Completion(f"echo {r.messages[-1][1]}", "stop", 1, 1) for r in requests]


def make_llm(tmp_path) -> tuple[LLM, RecordingBackend]:
    (tmp_path / "rules.jsonl").write_text("")  # never loaded: the recording backend answers
    backend = RecordingBackend()
    llm = LLM(f"scripted:{tmp_path / 'rules.jsonl'}", cache=None, executor=LocalExecutor(lambda: backend))
    return llm, backend


def test_misses_go_shortest_first_and_come_back_in_order(tmp_path):
    llm, backend = make_llm(tmp_path)
    prompts = ["a" * 50, "b" * 5, "c" * 300, "d" * 6, "e" * 5, "f" * 49]
    out = llm.generate([Request.chat(p) for p in prompts])
    assert [c.text for c in out] == [f"echo {p}" for p in prompts]
    assert backend.batches == [["b" * 5, "e" * 5], ["d" * 6, "f" * 49], ["a" * 50, "c" * 300]]
    llm.close()


def test_by_length_false_keeps_the_callers_order(tmp_path):
    llm, backend = make_llm(tmp_path)
    prompts = ["a" * 50, "b" * 5, "c" * 300]
    out = llm.generate([Request.chat(p) for p in prompts], by_length=False)
    assert [c.text for c in out] == [f"echo {p}" for p in prompts]
    assert backend.batches == [["a" * 50, "b" * 5], ["c" * 300]]
    llm.close()


def test_stream_sends_higher_priority_first_and_batches_what_was_queued(tmp_path):
    llm, backend = make_llm(tmp_path)
    with llm.stream() as s:
        s.submit(Request.chat("low 1"), "l1", priority=0)
        s.submit(Request.chat("low 2"), "l2", priority=0)
        s.submit(Request.chat("high"), "h", priority=5)
        first = s.wait()
        assert sorted(t for t, _ in first) == ["h", "l1"]  # one batch of 2: the high one and the oldest low one
        s.submit(Request.chat("mid"), "m", priority=1)
        rest = [t for t, _ in s.results()]
    assert rest == ["m", "l2"]
    assert backend.batches == [["high", "low 1"], ["mid", "low 2"]]
    llm.close()


def test_drop_queued_forgets_only_matching_tags(tmp_path):
    llm, backend = make_llm(tmp_path)
    with llm.stream() as s:
        for i in range(5):
            s.submit(Request.chat(f"boot {i}"), ("bootstrap", i))
        s.submit(Request.chat("inst"), ("instances", 0), priority=2)
        s.wait()  # dispatches ("instances", 0) and ("bootstrap", 0)
        assert s.drop_queued(lambda t: t[0] == "bootstrap") == 4
        assert list(s.results()) == []
        assert s.outstanding == 0
    assert backend.batches == [["inst", "boot 0"]]
    llm.close()
