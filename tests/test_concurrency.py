"""--concurrency auto (backends/concurrency.py): AIMD driven by a fake clock, then the real
openai backend against a real HTTP server that answers 429 with Retry-After."""

from __future__ import annotations

from instructforge.models.backends.concurrency import AdaptiveLimit, FixedLimit, make_limit


class Server:
    """A server of ``slots`` slots answering in ``service`` seconds: with L requests in
    flight it serves min(L, slots) / service per second and each waits L / that."""

    def __init__(self, slots: int, service: float = 1.0):
        self.slots, self.service = slots, service

    def window(self, limit: AdaptiveLimit, clock: list[float]) -> None:
        n = limit.limit
        rate = min(n, self.slots) / self.service
        latency = n / rate
        for _ in range(n):
            clock[0] += 1 / rate
            limit.on_answer(latency)


def drive(slots: int, windows: int, initial: int = 32) -> tuple[AdaptiveLimit, list[int]]:
    clock = [0.0]
    lim = AdaptiveLimit(initial=initial, maximum=1024, clock=lambda: clock[0])
    srv = Server(slots)
    seen = []
    for _ in range(windows):
        srv.window(lim, clock)
        seen.append(lim.limit)
    return lim, seen


def test_grows_while_throughput_rises_then_settles_near_the_servers_slots():
    lim, seen = drive(slots=128, windows=40)
    assert seen[:3] == [64, 128, 256]  # slow start: doubling while throughput rises
    late = seen[-20:]
    # never starves the server; waiting requests stay bounded (latency tolerance 1.5, one
    # probe step of 1/16 beyond it)
    assert min(late) >= 128 and max(late) <= 1.6 * 128, late
    assert len(set(late)) > 1  # it keeps probing (additive increase, multiplicative decrease)


def test_backs_off_when_a_small_server_only_queues_more():
    # Started above a 4-slot server's capacity, the first window shows no throughput gain to
    # come from growing; the overshoot is taken back and the limit stays near where the
    # queue was first measured (latency tolerance 1.5 x that).
    _, seen = drive(slots=4, windows=40, initial=32)
    assert seen[0] == 64 and max(seen[1:]) < 64 and all(32 <= n <= 1.6 * 32 for n in seen[2:]), seen


def test_overload_halves_and_pauses():
    clock = [100.0]
    lim = AdaptiveLimit(initial=64, clock=lambda: clock[0])
    lim.on_overload(retry_after=2.5)
    assert lim.limit == 32 and lim.pause_until == 102.5 and not lim.slow_start
    lim.on_overload(retry_after=None)
    assert lim.limit == 16 and lim.pause_until == 102.5


def test_fixed_limit_and_factory():
    assert make_limit(128, False).limit == 128 and isinstance(make_limit(128, False), FixedLimit)
    auto = make_limit(64, True)
    assert isinstance(auto, AdaptiveLimit) and auto.limit == 32 and auto.maximum == 64


def test_openai_backend_backs_off_on_429_and_still_answers_everything():
    from instructforge.models.backends.base import BackendOptions
    from instructforge.models.client import LLM
    from instructforge.models.types import Request, SamplingParams
    from instructforge.testing.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(retry_after=0.2) as srv:
        llm = LLM("openai:m", BackendOptions(base_url=srv.url, concurrency=256, adaptive_concurrency=True))
        reqs = [
            Request.chat(f"q{i}" + (" [[429:1]]" if i % 10 == 0 else ""), params=SamplingParams(max_tokens=4))
            for i in range(100)
        ]
        out = llm.generate(reqs)
        limit = llm.backend.limit
        llm.close()
    assert [c.text for c in out] == [f"echo: {r.messages[-1][1]}" for r in reqs]
    assert srv.failures["429"] == 10
    assert limit.limit < 32  # halved at least once from its start of 32
    assert limit.pause_until > 0
