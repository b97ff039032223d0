"""How one engine call's requests map onto CTranslate2 calls, for what ctranslate2 lacks.

Not a paper component: it serves the ctranslate2 engine (engine_ct2.py, whose docstring lists the
full SamplingParams mapping).

* Penalties: ctranslate2 only has a multiplicative ``repetition_penalty`` (HF/CTRL style, also
  over prompt tokens). OpenAI's additive presence/frequency penalties map to ``1 + (presence +
  frequency) / 20`` (20 ~ the top logit of SmolLM2, so the top logit moves by about the additive
  amount); an explicit ``repetition_penalty`` wins. Not exact.
* Seeds: ctranslate2 4.8 has no per-request seed; ``call_seed`` mixes every row's seed, in order,
  into the one seed of a call.
* Prompts of different lengths: ctranslate2 runs the shortest prompt of a batch as one prefill
  and feeds every longer prompt's remaining tokens through the decoding loop, one step per token
  for the whole batch. ``length_groups`` cuts a call into sub-batches of similar prompt length
  that minimise the modelled decoding work (one step costs ``STEP_OVERHEAD_ROWS`` + rows).
* Shared prefixes: ``static_groups`` groups rows by template (their first ``STATIC_MIN``
  tokens) and gives each group the prefix all its rows share, for ``static_prompt``.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from ..types import Request
from .decoding import request_seed

#: a logit scale for mapping OpenAI's additive penalties onto a multiplicative one (see above)
PENALTY_LOGIT_SCALE = 20.0
#: the fixed cost of one decoding step, in rows: measured here, a step of 1 row takes ~55 ms and
#: each extra row ~6 ms (17 tok/s at batch 1, ~110 tok/s at batch 16)
STEP_OVERHEAD_ROWS = 9.0
#: the fewest prompt tokens shared by a group of rows that are worth passing as a cached static
#: prompt (the chat template's own header is ~30 tokens; a template's demonstrations are hundreds)
STATIC_MIN = 64


def repetition_penalty(p: Any) -> float:
    """The multiplicative penalty standing in for OpenAI's additive ones (not exact)."""
    if p.repetition_penalty:
        return float(p.repetition_penalty)
    extra = (p.presence_penalty or 0.0) + (p.frequency_penalty or 0.0)
    return max(0.5, 1.0 + extra / PENALTY_LOGIT_SCALE)


def call_key(req: Request) -> tuple[Any, ...]:
    """The call-level options a row shares with the rows of its ctranslate2 call:
    (temperature, top_p, repetition penalty, wants logits)."""
    p = req.params
    return (max(0.0, p.temperature), p.top_p if p.temperature > 0 else 1.0, repetition_penalty(p), bool(p.logprobs))


def call_seed(requests: list[Request]) -> int:
    """One seed for a sampled call, mixing every row's seed in order."""
    h = hashlib.sha256(",".join(str(request_seed(r)) for r in requests).encode()).digest()
    return int.from_bytes(h[:4], "little")


def length_groups(lengths: list[int], new_tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` cut into groups of similar length that minimise the modelled cost
    sum over groups of ``steps * (STEP_OVERHEAD_ROWS + rows)``, where a group decodes
    ``max - min`` forced prompt steps plus ``new_tokens`` (exact dynamic programme over the
    sorted lengths: a few microseconds for 64 rows)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ls = [lengths[i] for i in order]
    n = len(ls)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest split of the first j sorted rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            c = best[i] + (ls[j - 1] - ls[i] + new_tokens) * (STEP_OVERHEAD_ROWS + j - i)
            if c < best[j]:
                best[j], cut[j] = c, i
    groups, j = [], n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def static_groups(prompts: list[list[int]]) -> list[tuple[list[int], int]]:
    """Rows grouped by their first ``STATIC_MIN`` tokens (in first-seen order), each group with
    the number of leading tokens all its rows share. Rows that share fewer than ``STATIC_MIN``
    with any other row (short prompts, a template of one) stay together in one plain group
    (prefix 0), first, so a call without shared prefixes is still one batch. At least one token
    of every row stays out of the prefix (ctranslate2 needs start tokens)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    plain: list[int] = []
    for i, ids in enumerate(prompts):
        if len(ids) > STATIC_MIN:
            groups.setdefault(tuple(ids[:STATIC_MIN]), []).append(i)
        else:
            plain.append(i)
    shared = []
    for rows in groups.values():
        members = [prompts[i] for i in rows]
        n = min(len(os.path.commonprefix(members)), min(map(len, members)) - 1)
        if len(rows) > 1 and n >= STATIC_MIN:
            shared.append((rows, n))
        else:
            plain.extend(rows)
    return ([(sorted(plain), 0)] if plain else []) + shared
