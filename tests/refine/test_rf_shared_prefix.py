"""The shared-prefix RL path against TRL's own code on a small random Llama with LoRA.

Same log-probs, entropies and LoRA gradients as TRL's ``_get_per_token_logps_and_entropies``;
the same greedy continuations as a plain ``generate`` on the padded batch; the base weights come
back bit for bit after a merged generation.
"""

from __future__ import annotations

import types

import pytest

torch = pytest.importorskip("torch")

from instructforge.train import shared_prefix as sp  # noqa: E402

VOCAB = 97
PAD = 0
EOS = 1


def _model(seed: int = 0, lora: bool = True):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=PAD,
        eos_token_id=EOS,
        bos_token_id=2,
        tie_word_embeddings=True,
    )
    m = LlamaForCausalLM(cfg).eval()
    add_fused_lm_head(m, temperature=0.7, outputs=("log_probs", "entropy"))  # as TRL patches its policy
    if not lora:
        return m
    # init_lora_weights=False: B is random too, so the adapter really changes the outputs
    return get_peft_model(
        m,
        LoraConfig(
            r=4,
            lora_alpha=8,
            lora_dropout=0.0,
            init_lora_weights=False,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        ),
    ).eval()


def _batch(k: int = 6):
    """Two prompt groups (3 rows of a 9-token prompt, 2 rows of a 5-token one, left-padded),
    answers of k tokens, one answer ended early (mask 0 after its EOS)."""
    g = torch.Generator().manual_seed(1)
    p1 = torch.randint(3, VOCAB, (9,), generator=g)
    p2 = torch.randint(3, VOCAB, (5,), generator=g)
    rows, masks = [], []
    for p in (p1, p1, p1, p2, p2):
        pad = 9 - len(p)
        rows.append(torch.cat([torch.full((pad,), PAD), p, torch.randint(3, VOCAB, (k,), generator=g)]))
        masks.append(torch.cat([torch.zeros(pad), torch.ones(len(p) + k)]))
    ids, mask = torch.stack(rows), torch.stack(masks).long()
    ids[1, -3] = EOS
    mask[1, -2:] = 0
    return ids, mask


def _trl_logps(model, ids, mask, k):
    import accelerate
    from trl import GRPOTrainer

    fake = types.SimpleNamespace(accelerator=accelerate.Accelerator(cpu=True), temperature=0.7)
    lp, ent, _ = GRPOTrainer._get_per_token_logps_and_entropies(fake, model, ids, mask, k, compute_entropy=True)
    return lp, ent


def test_rf_prompt_groups_split_on_prompt_and_mask():
    ids, mask = _batch()
    assert sp.prompt_groups(ids, mask, 6) == [[0, 1, 2], [3, 4]]
    mask2 = mask.clone()
    mask2[4, 4] = 0  # same tokens, different mask: another group
    assert sp.prompt_groups(ids, mask2, 6) == [[0, 1, 2], [3], [4]]


def test_rf_shared_prefix_logps_match_trl_values_and_gradients():
    model = _model()
    ids, mask = _batch()
    params = [p for p in model.parameters() if p.requires_grad]
    assert params
    a_lp, a_ent = _trl_logps(model, ids, mask, 6)
    b_lp, b_ent = sp.shared_prefix_logps(model, ids, mask, 6, 0.7, compute_entropy=True)
    assert b_lp.shape == a_lp.shape == (5, 6)
    torch.testing.assert_close(b_lp, a_lp, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(b_ent, a_ent, atol=1e-5, rtol=1e-4)
    assert (b_lp[1, -2:] == 0).all() and (b_lp[1, :-2] != 0).all()  # masked tail is 0, as in TRL
    # a loss that weights rows differently, so a wrong row order would show in the gradient
    w = torch.arange(1, 6, dtype=torch.float32)[:, None]
    ga = torch.autograd.grad((a_lp * w).sum(), params)
    gb = torch.autograd.grad((b_lp * w).sum(), params)
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(y, x, atol=1e-5, rtol=1e-3)
    assert any(x.abs().sum() > 0 for x in ga)


def test_rf_shared_prefix_entropy_graph_only_when_asked():
    model = _model()
    ids, mask = _batch()
    _, ent = sp.shared_prefix_logps(model, ids, mask, 6, 0.7, compute_entropy=True)
    assert not ent.requires_grad  # a metric: no graph
    _, ent = sp.shared_prefix_logps(model, ids, mask, 6, 0.7, compute_entropy=True, entropy_grad=True)
    assert ent.requires_grad  # an entropy bonus in the loss needs it


def test_rf_shared_prefix_without_adapters_and_one_token_prompt():
    model = _model(lora=False)
    ids = torch.tensor([[5, 7, 8, 9], [5, 10, 11, 12]])  # prompt = one token, shared
    mask = torch.ones_like(ids)
    a_lp, a_ent = _trl_logps(model, ids, mask, 3)
    b_lp, b_ent = sp.shared_prefix_logps(model, ids, mask, 3, 0.7, compute_entropy=True)
    torch.testing.assert_close(b_lp, a_lp, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(b_ent, a_ent, atol=1e-5, rtol=1e-4)


def test_rf_merged_lora_restores_base_weights_exactly_and_merges_for_real():
    model = _model()
    base = {n: p.detach().clone() for n, p in model.named_parameters() if "base_layer" in n}
    x = torch.tensor([[4, 5, 6, 7]])
    with torch.no_grad():
        before = model(input_ids=x).logits
        with model.disable_adapter():
            plain = model(input_ids=x).logits
        with sp.merged_lora(model):
            changed = [n for n, p in model.named_parameters() if "base_layer" in n and not torch.equal(p, base[n])]
            merged = model(input_ids=x).logits
        after = model(input_ids=x).logits
    assert changed  # the adapter really was folded into the weights
    torch.testing.assert_close(merged, before, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(plain, before, atol=1e-3)  # and it matters
    assert all(torch.equal(p, base[n]) for n, p in model.named_parameters() if "base_layer" in n)
    torch.testing.assert_close(after, before, atol=0, rtol=0)


def test_rf_shared_prefix_generate_matches_plain_generate_greedy():
    from transformers import GenerationConfig

    model = _model()
    p1, p2 = [5, 9, 14, 22, 31, 40, 41], [7, 8, 60]
    prompts = [p1, p1, p1, p2, p2]
    gc = GenerationConfig(max_new_tokens=8, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
    new = sp.shared_prefix_generate(model, prompts, gc, PAD)
    longest = len(p1)
    ids = torch.tensor([[PAD] * (longest - len(p)) + p for p in prompts])
    mask = (torch.arange(longest)[None] >= torch.tensor([longest - len(p) for p in prompts])[:, None]).long()
    with torch.no_grad():
        ref = model.generate(input_ids=ids, attention_mask=mask, generation_config=gc)[:, longest:]
    assert new.tolist() == ref.tolist()
    assert new.shape[0] == 5 and new[0].tolist() == new[1].tolist() and new[3].tolist() == new[4].tolist()


def test_rf_shared_prefix_generate_one_token_prompt_has_nothing_to_cache():
    from transformers import GenerationConfig

    model = _model()
    gc = GenerationConfig(max_new_tokens=5, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
    new = sp.shared_prefix_generate(model, [[9], [9], [4, 5, 6]], gc, PAD)
    with torch.no_grad():
        ref = model.generate(
            input_ids=torch.tensor([[PAD, PAD, 9], [PAD, PAD, 9], [4, 5, 6]]),
            attention_mask=torch.tensor([[0, 0, 1], [0, 0, 1], [1, 1, 1]]),
            generation_config=gc,
        )
    assert new.tolist() == ref[:, 3:].tolist()


def test_rf_shared_prefix_generate_samples_differ_within_a_group():
    from transformers import GenerationConfig

    model = _model()
    torch.manual_seed(3)
    gc = GenerationConfig(
        max_new_tokens=12, do_sample=True, temperature=1.0, top_k=0, pad_token_id=PAD, eos_token_id=EOS
    )
    new = sp.shared_prefix_generate(model, [[5, 9, 14, 22]] * 4, gc, PAD)
    assert len({tuple(r) for r in new.tolist()}) > 1  # the repeated cache does not make the rows identical


def test_rf_supported_refuses_logit_scaling_models():
    model = _model(lora=False)
    assert sp.supported(model)
    model.config.final_logit_softcapping = 30.0
    assert not sp.supported(model)
    model.config.final_logit_softcapping = None
    model.config.layer_types = ["sliding_attention", "full_attention"]
    assert not sp.supported(model)
