"""The backend contract, run against real backends: scripted, openai (a real local HTTP server)
and the embedded model (slow). Structure only, never model content."""

from __future__ import annotations

import pytest

from instructforge.models.backends import BackendOptions, load_backend
from instructforge.models.types import Request, SamplingParams
from instructforge.testing.fake_openai import FakeOpenAIServer


@pytest.fixture(scope="module")
def fake_server():
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def embedded_backend():
    b = load_backend("embedded", BackendOptions(engine="transformers"))
    yield b
    b.close()


@pytest.fixture(params=["scripted", "openai", pytest.param("embedded", marks=pytest.mark.slow)])
def backend(request, tmp_path_factory, fake_server):
    if request.param == "scripted":
        path = tmp_path_factory.mktemp("rules") / "rules.jsonl"
        path.write_text(
            '{"contains": "count", "response": "one two three four five six seven eight"}\n'
            '{"default": true, "response": ["alpha beta. gamma", "delta epsilon. zeta"], '
            '"top_logprobs": [{"alpha": -0.1, "delta": -2.0}]}\n'
        )
        b = load_backend(f"scripted:{path}")
        yield b
    elif request.param == "openai":
        b = load_backend("openai:test-model", BackendOptions(base_url=fake_server.url, concurrency=4))
        yield b
        b.close()
    else:
        yield request.getfixturevalue("embedded_backend")


def test_one_completion_per_request_in_order(backend):
    reqs = [
        Request.chat(f"Please count to {n}.", params=SamplingParams(temperature=0, max_tokens=12)) for n in range(5)
    ]
    reqs.append(Request.raw("The capital of France is", params=SamplingParams(temperature=0, max_tokens=6)))
    out = backend.generate(reqs)
    assert len(out) == len(reqs)
    for c in out:
        assert isinstance(c.text, str)
        assert c.finish_reason in {"stop", "length"}
        assert isinstance(c.prompt_tokens, int) and c.prompt_tokens > 0
        assert 0 <= c.completion_tokens <= 12
    if backend.kind == "openai":  # the echo server proves the order is kept
        assert [c.text.split()[-1] for c in out[:5]] == [f"{n}." for n in range(5)]


def test_max_tokens_is_a_hard_limit(backend):
    out = backend.generate(
        [Request.chat("Please count from one to fifty in words.", params=SamplingParams(temperature=0, max_tokens=3))]
    )[0]
    assert out.completion_tokens <= 3
    assert out.finish_reason == "length"


def test_stop_string_cuts_the_text(backend):
    p = SamplingParams(temperature=0, max_tokens=24)
    free = backend.generate([Request.chat("Please count from one to twenty, separated by spaces.", params=p)])[0].text
    words = free.split()
    assert len(words) >= 3, free
    stop = words[2]
    cut = backend.generate(
        [
            Request.chat(
                "Please count from one to twenty, separated by spaces.",
                params=SamplingParams(temperature=0, max_tokens=24, stop=(stop,)),
            )
        ]
    )[0]
    assert stop not in cut.text
    assert free.startswith(cut.text.rstrip()) or free.find(stop) >= len(cut.text.rstrip())
    assert cut.finish_reason == "stop"


def test_seeded_sampling_is_reproducible_and_sample_index_varies(backend):
    p = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=16)
    a = backend.generate([Request.chat("Invent a name for a cat.", params=p, seed=7, sample_index=i) for i in range(3)])
    b = backend.generate([Request.chat("Invent a name for a cat.", params=p, seed=7, sample_index=i) for i in range(3)])
    assert [c.text for c in a] == [c.text for c in b]
    if backend.kind != "openai":  # the echo server ignores the seed by design
        assert len({c.text for c in a}) > 1


def test_logprobs_when_supported(backend):
    assert backend.supports_logprobs
    c = backend.generate(
        [
            Request.chat(
                "Is the sky blue? Answer yes or no.", params=SamplingParams(temperature=0, max_tokens=1, logprobs=5)
            )
        ]
    )[0]
    assert c.top_logprobs and isinstance(c.top_logprobs[0], dict)
    assert all(isinstance(v, float) and v <= 0.0 for v in c.top_logprobs[0].values())
