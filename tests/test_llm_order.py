"""LLM.generate hands cache misses to the executor shortest prompt first (so engine batches hold
prompts of similar length) and still returns completions in the caller's order."""

from __future__ import annotations

from instructforge.llm import LLM
from instructforge.records import Completion, Request


class RecordingExecutor:
    batch_size = 2

    def __init__(self):
        self.chunks: list[list[str]] = []

    def run(self, requests):
        for s in range(0, len(requests), self.batch_size):
            part = requests[s : s + self.batch_size]
            self.chunks.append([r.messages[-1][1] for r in part])
            yield list(range(s, s + len(part))), [Completion(f"echo {r.messages[-1][1]}", "stop", 1, 1) for r in part]

    def close(self):
        pass


def test_misses_go_shortest_first_and_come_back_in_order(tmp_path):
    (tmp_path / "rules.jsonl").write_text("")  # never loaded: the executor answers
    ex = RecordingExecutor()
    llm = LLM(f"scripted:{tmp_path / 'rules.jsonl'}", cache=None, executor=ex)
    prompts = ["a" * 50, "b" * 5, "c" * 300, "d" * 6, "e" * 5, "f" * 49]
    out = llm.generate([Request.chat(p) for p in prompts])
    assert [c.text for c in out] == [f"echo {p}" for p in prompts]
    assert ex.chunks == [["b" * 5, "e" * 5], ["d" * 6, "f" * 49], ["a" * 50, "c" * 300]]


def test_by_length_false_keeps_the_callers_order(tmp_path):
    (tmp_path / "rules.jsonl").write_text("")
    ex = RecordingExecutor()
    llm = LLM(f"scripted:{tmp_path / 'rules.jsonl'}", cache=None, executor=ex)
    prompts = ["a" * 50, "b" * 5, "c" * 300]
    out = llm.generate([Request.chat(p) for p in prompts], by_length=False)
    assert [c.text for c in out] == [f"echo {p}" for p in prompts]
    assert ex.chunks == [["a" * 50, "b" * 5], ["c" * 300]]
