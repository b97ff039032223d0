"""The openai backend against a real local HTTP server that injects 429, 500, delays beyond the
timeout and dropped connections: the run completes and nothing is lost."""

from __future__ import annotations

import pytest

from conftest import run_cli
from instructforge.core.errors import BackendError, InputError
from instructforge.models.backends import BackendOptions, load_backend
from instructforge.models.client import LLM
from instructforge.models.types import Request, SamplingParams
from instructforge.testing.fake_openai import FakeOpenAIServer


def test_faults_are_retried_and_nothing_is_lost():
    with FakeOpenAIServer(slow_seconds=1.5, retry_after=0.01) as srv:
        b = load_backend("openai:m", BackendOptions(base_url=srv.url, concurrency=8, timeout=0.5, max_retries=6))
        texts = []
        for i in range(40):
            fault = ["", "[[429:2]]", "[[500:3]]", "[[slow:1]]", "[[drop:2]]"][i % 5]
            texts.append(f"item {i} {fault}")
        out = b.generate([Request.chat(t, params=SamplingParams(max_tokens=100)) for t in texts])
        b.close()
        assert [c.text for c in out] == [f"echo: {t}" for t in texts]
        assert srv.failures["429"] == 16 and srv.failures["500"] == 24
        assert srv.failures["slow"] == 8 and srv.failures["drop"] == 16
        assert b.retries_done >= 16 + 24 + 8 + 16


def test_completions_endpoint_for_base_models():
    with FakeOpenAIServer() as srv:
        b = load_backend("openai:base", BackendOptions(base_url=srv.url, api="completions"))
        out = b.generate(
            [
                Request.raw("Once upon a time", params=SamplingParams(max_tokens=50, logprobs=2)),
                Request.chat("hello there", params=SamplingParams(max_tokens=50)),
            ]
        )
        b.close()
        assert out[0].text == "echo: Once upon a time"
        assert out[0].top_logprobs == [{"Yes": -0.2, "No": -1.8}]
        assert out[1].text.startswith("echo: hello there")  # chat flattened to text


def test_retries_are_bounded():
    with FakeOpenAIServer() as srv:
        b = load_backend("openai:m", BackendOptions(base_url=srv.url, max_retries=2))
        with pytest.raises(BackendError, match="no answer after 3 attempts"):
            b.generate([Request.chat("x [[500:99]]")])
        b.close()
        assert srv.failures["500"] == 3


def test_bad_base_url_is_input_error():
    with pytest.raises(InputError):
        load_backend("openai:m", BackendOptions(base_url="localhost:1234"))


def test_cli_unreachable_server_one_line(tmp_path):
    p = run_cli(
        "ask",
        "--model",
        "openai:m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--no-cache",
        "--timeout",
        "0.5",
        "hi",
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path)},
        timeout=120,
    )
    assert p.returncode == 1
    err = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: http://127.0.0.1:9/v1/chat/completions: no answer")


def test_api_key_never_stored(tmp_path):
    secret = "sk-test-VERY-SECRET-123"
    with FakeOpenAIServer() as srv:
        p = run_cli(
            "ask",
            "--model",
            "openai:m",
            "--base-url",
            srv.url,
            "hello",
            env={"OPENAI_API_KEY": secret, "INSTRUCTFORGE_CACHE_DIR": str(tmp_path)},
        )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "echo: hello"
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_llm_cache_in_front_of_openai(tmp_path):
    from instructforge.models.cache import CallCache

    with FakeOpenAIServer() as srv:
        llm = LLM("openai:m", BackendOptions(base_url=srv.url), cache=CallCache(tmp_path / "c.sqlite"))
        reqs = [Request.chat(f"q{i}") for i in range(30)]
        first = llm.generate(reqs)
        served = srv.served
        second = llm.generate(reqs)
        llm.close()
    assert [c.text for c in first] == [c.text for c in second]
    assert served == 30 and srv.served == 30
    assert llm.stats.cache_hits == 30 and llm.stats.cache_misses == 30
