"""The transformers engine's shared-prefix attention gives the answers of ordinary attention over
the whole prompt, on the real instance prompts (two templates in one call, greedy and seeded
samples, logprobs); stored prefixes are reused; ``auto`` sends long prompts to transformers and
short ones to ctranslate2."""

from __future__ import annotations

import os

import pytest

from instructforge.models.backends.base import BackendOptions
from instructforge.models.types import Request, SamplingParams


def instance_requests(params: SamplingParams, n: int = 4) -> list[Request]:
    """Input-first and output-first instance prompts (~970 and ~1,070 tokens) for real seeds."""
    from instructforge.selfinstruct.instances import instance_prompt
    from instructforge.selfinstruct.seeds import PACKAGED_SEEDS, load_seeds

    tasks = load_seeds(PACKAGED_SEEDS)[:n]
    return [
        Request(messages=(("user", instance_prompt(t.instruction, k % 2 == 1)),), params=params, seed=k)
        for k, t in enumerate(tasks)
    ]


@pytest.fixture(scope="module")
def engine():
    from instructforge.models.backends.engine_transformers import TransformersEngine
    from instructforge.models.backends.model_files import resolve_model_dir

    os.environ.setdefault("INSTRUCTFORGE_THREADS", "2")
    # float32: the shared path's answers are compared with plain attention's exactly
    return TransformersEngine(resolve_model_dir(None)[0], BackendOptions(threads=2, dtype="float32"))


def run(engine, reqs: list[Request], shared: bool):
    from instructforge.models.backends.local import render_prompt

    texts = [render_prompt(engine.tokenizer, r) for r in reqs]
    ctx = engine.ctx
    engine.ctx = ctx if shared else None
    try:
        return engine.generate(texts, reqs)
    finally:
        engine.ctx = ctx


def test_attention_matches_plain_attention_on_random_tensors():
    """Prefix + tail, merged by log-sum-exp, equals softmax attention over [prefix, tail]."""
    import torch

    from instructforge.models.backends.shared_prefix import Context, PrefixGroup, attention, tail_mask

    torch.manual_seed(0)
    b, kv, g, q_len, t, p, d = 3, 2, 3, 2, 5, 7, 4
    query = torch.randn(b, kv * g, q_len, d)
    key, value = torch.randn(b, kv, t, d), torch.randn(b, kv, t, d)
    pk, pv = torch.randn(kv, p, d), torch.randn(kv, p, d)
    valid = torch.ones(b, t, dtype=torch.bool)
    valid[2, :2] = False  # row 2 is left-padded
    mask = tail_mask(valid, q_len)

    class Module:
        layer_idx = 0
        instructforge_ctx = Context([PrefixGroup(torch.tensor([0, 2]), [(pk, pv)])])

    got, _ = attention(Module(), query, key, value, mask)
    for row in range(b):
        k, v = key[row], value[row]
        keep = mask[row, 0]  # (q, t)
        if row != 1:  # rows 0 and 2 also see the prefix, all of it
            k, v = torch.cat([pk, k], 1), torch.cat([pv, v], 1)
            keep = torch.cat([torch.ones(q_len, p, dtype=torch.bool), keep], 1)
        kk, vv = k.repeat_interleave(g, 0), v.repeat_interleave(g, 0)
        s = (query[row] @ kk.transpose(-1, -2)) * d**-0.5
        want = torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ vv  # (heads, q, d)
        assert torch.allclose(got[row].transpose(0, 1), want, atol=1e-5), row
    assert mask[2, 0, 0, :2].tolist() == [False, False]  # padding keys are never attended


@pytest.mark.slow
def test_shared_prefix_gives_the_answers_of_plain_attention(engine):
    greedy = SamplingParams(temperature=0, max_tokens=24, logprobs=3)
    reqs = instance_requests(greedy)
    shared = run(engine, reqs, True)
    plain = run(engine, reqs, False)
    assert [c.text for c in shared] == [c.text for c in plain]
    assert all(c.text.strip() for c in shared)
    assert [c.prompt_tokens for c in shared] == [c.prompt_tokens for c in plain] and min(
        c.prompt_tokens for c in plain
    ) > 900
    for a, b in zip(shared, plain, strict=True):
        assert a.top_logprobs and len(a.top_logprobs) == len(b.top_logprobs)
        for x, y in zip(a.top_logprobs, b.top_logprobs, strict=True):
            assert x.keys() == y.keys()
            assert all(abs(x[k] - y[k]) < 1e-3 for k in x)
    # the two templates are two stored prefixes; a second call reuses them
    stored = list(engine.prefixes.items)
    assert len(stored) == 2 and all(len(k) > 900 for k in stored)
    again = run(engine, reqs[:3], True)
    assert set(engine.prefixes.items) == set(stored)
    assert [c.text for c in again] == [c.text for c in shared[:3]]


def test_bfloat16_engine_decodes_the_instance_prompts_close_to_float32(engine):
    """The bfloat16 engine (``dtype: auto`` on a CPU with native bfloat16): bfloat16 weights,
    the shared-prefix path still taken, and the first token's top log-probabilities within 0.2
    of float32's (greedy answers then drift apart after a near tie, as int8's do)."""
    from instructforge.models.backends.engine_transformers import TransformersEngine
    from instructforge.models.backends.model_files import resolve_model_dir

    bf16 = TransformersEngine(resolve_model_dir(None)[0], BackendOptions(threads=2, dtype="bfloat16"))
    assert bf16.dtype == "bfloat16" and str(next(bf16.model.parameters()).dtype) == "torch.bfloat16"
    greedy = SamplingParams(temperature=0, max_tokens=6, logprobs=3)
    reqs = instance_requests(greedy, 2)
    low, full = run(bf16, reqs, True), run(engine, reqs, True)
    assert len(bf16.prefixes.items) == 2  # the demonstrations were stored once per template
    for a, b in zip(low, full, strict=True):
        assert a.text.strip() and a.prompt_tokens == b.prompt_tokens
        top = max(b.top_logprobs[0], key=b.top_logprobs[0].get)
        assert top in a.top_logprobs[0] and abs(a.top_logprobs[0][top] - b.top_logprobs[0][top]) < 0.2


@pytest.mark.slow
def test_seeded_samples_do_not_depend_on_the_prefix_path_or_batch(engine):
    sampled = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=16)
    reqs = instance_requests(sampled)
    shared = [c.text for c in run(engine, reqs, True)]
    assert shared == [c.text for c in run(engine, reqs, False)]
    assert run(engine, reqs[2:3], True)[0].text == shared[2]  # alone, the same sample


@pytest.mark.slow
def test_auto_sends_long_prompts_to_transformers(monkeypatch):
    from instructforge.models.backends import model_identity
    from instructforge.models.backends.engine_transformers import TransformersEngine
    from instructforge.models.backends.engines import LONG_PROMPT_TOKENS, SplitEngine
    from instructforge.models.backends.local import LocalBackend

    assert model_identity("embedded", BackendOptions(engine="auto", dtype="float32")).endswith(f"#{SplitEngine.SPLIT}")
    seen: list[int] = []
    real = TransformersEngine.generate

    def spy(self, texts, requests):
        seen.extend(len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts)
        return real(self, texts, requests)

    monkeypatch.setattr(TransformersEngine, "generate", spy)
    b = LocalBackend(None, BackendOptions(engine="auto", threads=2))
    assert isinstance(b.engine, SplitEngine)
    greedy = SamplingParams(temperature=0, max_tokens=8)
    short = Request.chat("Name three colors.", params=greedy)
    out = b.generate([short])
    assert out[0].text.strip() and not seen and b.engine._long is None  # not even loaded
    long = instance_requests(greedy, 2)
    out = b.generate([long[0], short, long[1]])
    assert len(out) == 3 and all(c.text.strip() for c in out)
    assert len(seen) == 2 and min(seen) >= LONG_PROMPT_TOKENS
    assert out[1].prompt_tokens < LONG_PROMPT_TOKENS <= min(out[0].prompt_tokens, out[2].prompt_tokens)


@pytest.mark.slow
def test_rows_that_finish_leave_the_batch_without_changing_the_others(engine):
    """Rows with small max_tokens finish first and are dropped from the batch (and from their
    prefix group); every answer is still the one it gets alone."""
    reqs = instance_requests(SamplingParams(temperature=0, max_tokens=20), 4)
    short = SamplingParams(temperature=0, max_tokens=3)
    reqs = [
        reqs[0],
        Request(messages=reqs[1].messages, params=short),
        Request(messages=reqs[2].messages, params=short),
        reqs[3],
    ]
    together = run(engine, reqs, True)
    assert [c.completion_tokens for c in together] == [20, 3, 3, 20]
    for r, c in zip(reqs, together, strict=True):
        assert run(engine, [r], False)[0].text == c.text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_type", "shared"),
    [("llama", True), ("qwen2", True), ("mistral", True), ("qwen3", True), ("granite", True), ("phi3", False)],
)
def test_other_architectures_take_the_shared_path_or_fall_back(tmp_path, model_type, shared):
    """An ``hf:DIR`` model of another family (tiny, random weights, the embedded tokenizer): the
    plain decoder families take the shared-prefix path and give the answers of SDPA attention;
    a fused-projection family (phi3) keeps transformers' own attention."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from instructforge.models.backends.engine_transformers import TransformersEngine
    from instructforge.models.backends.model_files import load_tokenizer, resolve_model_dir

    tok = load_tokenizer(resolve_model_dir(None)[0])
    cfg = AutoConfig.for_model(
        model_type,
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
        **({"sliding_window": None} if model_type == "mistral" else {}),
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    engine = TransformersEngine(tmp_path, BackendOptions(threads=2, dtype="float32"))  # compared exactly
    assert (engine.ctx is not None) is shared
    reqs = instance_requests(SamplingParams(temperature=0, max_tokens=6, logprobs=2))
    got, want = run(engine, reqs, True), run(engine, reqs, False)
    assert [c.text for c in got] == [c.text for c in want]
    for a, b in zip(got, want, strict=True):
        assert a.top_logprobs is not None and b.top_logprobs is not None
        for x, y in zip(a.top_logprobs, b.top_logprobs, strict=True):
            assert max(abs(v - y.get(k, v + 1)) for k, v in x.items()) < 1e-3
    if shared:
        assert len(engine.prefixes.items) == 2  # one per template
