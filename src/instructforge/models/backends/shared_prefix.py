"""Shared-prefix attention for the transformers engine: a prompt prefix that many rows share is
kept once, not once per row.

Not a paper component: it only decides how fast the paper's prompts decode. The Self-Instruct
instance and classification prompts carry the template's demonstrations (~945 of the ~970 tokens
of an instance prompt), the same in every row. With an ordinary per-row KV cache, each decoding
step of a batch of 16 reads 16 copies of those ~945 tokens' keys and values in every layer; on a
CPU that memory traffic, not the arithmetic, sets the step time (measured with SmolLM2-135M, batch
16: 120 ms per step after ~40-token prompts, 270 ms after ~1,000-token ones; docs/scaling.md,
"Shared prompt prefixes").

How: the engine runs the shared prefix once, batch 1, and keeps its keys and values per layer
(``PrefixStore``, reused by later calls that begin with the same tokens). The model's own cache then
holds only each row's tail (its own prompt tokens and what it generates). ``attention`` (registered
with transformers as ``instructforge_prefix``) computes each row's attention over [its group's
prefix, its own tail] as two parts and merges them exactly (log-sum-exp), so the answer is the
same as over the whole prompt, up to float rounding. The mask is built here (``tail_mask``): a
4-D boolean mask is passed to the model as it is.

Models whose attention is not plain causal softmax (a sliding window, logit soft-capping) keep
transformers' own SDPA attention and per-row caches (``plain_attention``, also what the RL
stage's shared-prompt code checks, train/shared_prefix.py).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .ct2_plan import static_groups

#: the name this attention is registered under with transformers' AttentionInterface
NAME = "instructforge_prefix"
#: prefixes a PrefixStore keeps after a call (each ~43 MB for SmolLM2-135M at ~1,000 tokens):
#: the instance prompts' two templates and the classification template fit, with room to spare
STORE_SIZE = 8
#: the fewest leading tokens a row shares with a prefix to read it rather than its own (more
#: than a chat header and the opening words of a template)
MATCH_MIN = 256


@dataclass
class PrefixGroup:
    """Rows (indices into the batch) that share one prefix: per layer its (keys, values), each
    (kv_heads, prefix_len, head_dim)."""

    rows: Any  # LongTensor
    kv: list[tuple[Any, Any]]


@dataclass
class Context:
    """What the attention of one forward pass needs beyond transformers' arguments; the engine
    sets ``groups`` before each forward pass (empty: ordinary attention over the cache)."""

    groups: list[PrefixGroup] = field(default_factory=list)


def plain_attention(config: Any) -> bool:
    """Whether every layer's attention is causal softmax over the whole context (no sliding
    window, no soft-capped logits): what ``attention`` computes."""
    if any(t != "full_attention" for t in getattr(config, "layer_types", None) or []):
        return False
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    return not getattr(config, "attn_logit_softcapping", None)


def install(model: Any) -> Context | None:
    """Switch ``model`` to the shared-prefix attention and give each attention module the
    Context it reads; None (model unchanged) where it is not supported."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if not plain_attention(model.config):
        return None
    AttentionInterface.register(NAME, attention)
    # a 2-D mask (the scoring pass, training-style calls) becomes SDPA's boolean one
    AttentionMaskInterface.register(NAME, sdpa_mask)
    layers = [m for m in model.modules() if hasattr(m, "layer_idx") and hasattr(m, "q_proj")]
    if len(layers) != getattr(model.config, "num_hidden_layers", -1):
        return None  # not the usual decoder layout: keep transformers' own attention
    try:
        model.set_attn_implementation(NAME)
    except (ValueError, AttributeError):
        return None
    ctx = Context()
    for module in layers:
        module.instructforge_ctx = ctx
    return ctx


def attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **_: Any,
) -> tuple[Any, None]:
    """Softmax attention of ``query`` (batch, heads, q, dim) over each row's group prefix (from
    the module's Context) and over ``key``/``value`` (batch, kv_heads, t, dim: the row's own
    tokens), under ``attention_mask`` (batch, 1, q, t; True = may attend). Returns (batch, q,
    heads, dim), as transformers' attention functions do."""
    import torch

    b, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    g = heads // kv_heads
    scale = scaling if scaling is not None else dim**-0.5
    ctx: Context | None = getattr(module, "instructforge_ctx", None)
    groups = ctx.groups if ctx is not None else []
    if attention_mask is None:  # transformers leaves out a purely causal mask
        attention_mask = tail_mask(torch.ones((b, key.shape[2]), dtype=torch.bool), q_len)
    if not groups:
        out = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, scale=scale, enable_gqa=g > 1
        )
        return out.transpose(1, 2).contiguous(), None
    # bfloat16 weights: the scores, their log-sum-exps and the merge in float32 (a few small
    # tensors per layer next to the weights; stored prefixes are float32 already), the result
    # back in the model's type
    dtype = query.dtype
    query, key, value = query.float(), key.float(), value.float()
    # query heads kv*g .. kv*g+g-1 read kv head kv (transformers' repeat_kv order)
    q = query.reshape(b, kv_heads, g * q_len, dim)
    s = torch.matmul(q, key.transpose(-1, -2)) * scale  # (b, kv, g*q, t)
    mask = attention_mask[:, :, None].expand(b, 1, g, q_len, key.shape[2]).reshape(b, 1, g * q_len, -1)
    s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, -1, keepdim=True)
    out = torch.matmul(torch.exp(s - lse), value)  # (b, kv, g*q, dim)
    layer = module.layer_idx
    for grp in groups:
        pk, pv = grp.kv[layer]  # float32 (PrefixStore)
        n = len(grp.rows)
        # the group's rows side by side in one matrix per kv head: the prefix is read once
        qr = q[grp.rows].permute(1, 0, 2, 3).reshape(kv_heads, n * g * q_len, dim)
        sp = torch.matmul(qr, pk.transpose(-1, -2)) * scale  # (kv, n*g*q, prefix)
        lse_p = torch.logsumexp(sp, -1, keepdim=True)
        op = torch.matmul(torch.exp(sp - lse_p), pv)
        op = op.reshape(kv_heads, n, g * q_len, dim).permute(1, 0, 2, 3)
        lse_p = lse_p.reshape(kv_heads, n, g * q_len, 1).permute(1, 0, 2, 3)
        lse_t = lse[grp.rows]
        both = torch.logaddexp(lse_t, lse_p)
        out[grp.rows] = out[grp.rows] * torch.exp(lse_t - both) + op * torch.exp(lse_p - both)
    out = out.reshape(b, kv_heads, g, q_len, dim).reshape(b, heads, q_len, dim)
    return out.transpose(1, 2).contiguous().to(dtype), None


def tail_mask(key_valid: Any, q_len: int) -> Any:
    """The boolean 4-D mask (batch, 1, q_len, t) for ``q_len`` new tokens at the end of ``t``
    cached ones: causal, and only keys where ``key_valid`` (batch, t) holds. A padding query
    attends to itself, so no row of the softmax is empty."""
    import torch

    t = key_valid.shape[1]
    qpos = torch.arange(t - q_len, t)[:, None]
    kpos = torch.arange(t)[None, :]
    causal = kpos <= qpos  # (q, t)
    m = causal[None] & key_valid[:, None, :].bool()
    m |= (kpos == qpos)[None]
    return m[:, None]


def last_logits(model: Any, ids: Any, mask: Any, pos: Any, cache: Any) -> Any:
    """One forward pass of ``ids`` (batch, q) on top of ``cache`` (filled in place): the fp32
    logits at each row's last position only."""
    cls: Any = type(model)
    cache_arg = {_cache_kwarg(cls): cache}
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1, **cache_arg)
    return out.logits[:, -1, :].float()


@functools.cache
def _cache_kwarg(cls: Any) -> str:
    """What the model's forward calls its KV cache: ``cache`` in later transformers 5 releases
    (5.25 has it; ``past_key_values`` is deprecated there and goes in 5.40), else
    ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(cls.forward).parameters else "past_key_values"


class PrefixStore:
    """Keys and values of recently used prompt prefixes (batch 1), least recently used out.

    A stored prefix serves any later row that begins with its first tokens: a prefix's keys and
    values at position j depend only on tokens 0..j, so a slice is exact."""

    def __init__(self, size: int = STORE_SIZE):
        self.size = size
        self.items: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()

    def assign(self, model: Any, ctx: Context, prompts: list[list[int]]) -> list[tuple[list[int], int, list[Any]]]:
        """For one call's prompts: (rows, prefix length, per-layer kv) per prefix that rows read.

        A long row reads the stored prefix it shares most tokens with, when that is at least
        ``MATCH_MIN``. The other long rows get new prefixes, run now and stored: rows of one
        template (``ct2_plan.static_groups``) that share at least ``MATCH_MIN`` tokens share
        those, every other long row has its own (its prompt but the last token, so a later row
        of its template finds the demonstrations stored). Short rows read none. At least one
        token of every row stays out of its prefix (it starts the row's own tail)."""
        plan: dict[tuple[tuple[int, ...], int], list[int]] = {}
        rest = []
        for i, ids in enumerate(prompts):
            if len(ids) <= MATCH_MIN:
                continue
            key, n = self._match(ids)
            if key is not None and n >= MATCH_MIN:
                plan.setdefault((key, n), []).append(i)
            else:
                rest.append(i)
        for members, shared in static_groups([prompts[i] for i in rest]):
            rows = [rest[k] for k in members]
            if shared >= MATCH_MIN:
                plan[(self._add(model, ctx, prompts[rows[0]][:shared]), shared)] = rows
            else:
                for i in rows:
                    plan[(self._add(model, ctx, prompts[i][:-1]), len(prompts[i]) - 1)] = [i]
        out = []
        for (key, n), rows in plan.items():
            self.items.move_to_end(key)
            out.append((rows, n, [(k[:, :n], v[:, :n]) for k, v in self.items[key]]))
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return out

    def _match(self, ids: list[int]) -> tuple[tuple[int, ...] | None, int]:
        """The stored prefix sharing the most leading tokens with ``ids`` (all but its last)."""
        best, best_key = 0, None
        head = tuple(ids[:-1])
        for stored in self.items:
            n = len(os.path.commonprefix([stored, head]))
            if n > best:
                best, best_key = n, stored
        return best_key, best

    def _add(self, model: Any, ctx: Context, tokens: list[int]) -> tuple[int, ...]:
        key = tuple(tokens)
        if key not in self.items:
            self.items[key] = self._run(model, ctx, tokens)
        return key

    @staticmethod
    def _run(model: Any, ctx: Context, tokens: list[int]) -> list[tuple[Any, Any]]:
        import torch
        from transformers import DynamicCache

        ctx.groups = []
        ids = torch.tensor([tokens])
        cache = DynamicCache()
        mask = tail_mask(torch.ones((1, len(tokens)), dtype=torch.bool), len(tokens))
        last_logits(model, ids, mask, torch.arange(len(tokens))[None], cache)
        layers: list[Any] = list(cache.layers)
        # float32 copies whatever the model's type: attention() merges in float32, so a bfloat16
        # model's prefix is converted once here rather than at every layer of every step
        return [
            (layer.keys[0].to(torch.float32, copy=True), layer.values[0].to(torch.float32, copy=True))
            for layer in layers
        ]
