"""Generation engines for local models, and ``make_engine`` that picks one.

An engine takes rendered prompt texts plus their Requests and returns Completions. Every
engine honours the same SamplingParams: temperature (0 = greedy), top_p, max_tokens, stop
strings, per-request seed, penalties and top-N logprobs. This module's transformers engine
applies OpenAI presence/frequency penalties exactly (additive on the logits of tokens already
generated); engine_ct2.py and engine_llamacpp.py document where they differ. Not a paper
component: the engines only decide how fast the paper's generation steps run.

``--engine auto`` (the default) takes the fastest installed engine: ctranslate2 (int8), then
llama.cpp, then transformers. Training always uses transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Completion, Request
from .base import BackendOptions


class Engine:
    name = "base"
    tokenizer: Any

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        raise NotImplementedError


def request_seed(req: Request) -> int:
    """Per-request RNG seed: the request's seed mixed with its sample index."""
    base = 0 if req.seed is None else int(req.seed)
    return (base * 1_000_003 + req.sample_index * 7919 + 17) % (2**63 - 1)


def find_stop(text: str, stops: Sequence[str]) -> int:
    """Index of the earliest stop string in text, or -1."""
    best = -1
    for s in stops:
        i = text.find(s)
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best


class TransformersEngine(Engine):
    """Batched decoding with our own loop over a transformers model.

    Why our own loop instead of ``model.generate``: each row gets its own torch.Generator, so a
    sampled answer depends on its own seed and not on which other requests share the batch
    (resume and the cache stay consistent), and each row can have its own stop strings,
    penalties and logprobs.
    """

    name = "transformers"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None, model: Any = None, tokenizer: Any = None):
        from .local import load_hf_model

        if model is None:
            model, tokenizer = load_hf_model(model_dir)
        self.model, self.tokenizer = model, tokenizer
        self.eos_ids = self._eos_ids()

    def _eos_ids(self) -> set[int]:
        ids = set()
        for src in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(src, int):
                ids.add(src)
            elif src:
                ids.update(int(x) for x in src)
        return ids

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        import torch

        with torch.inference_mode():
            return self._decode(texts, requests)

    def _decode(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        import torch
        from transformers import DynamicCache

        tok, model = self.tokenizer, self.model
        enc = tok(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        n = len(texts)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True).logits[:, -1, :].float()
        dec = RowDecoder(tok, self.eos_ids, requests, [ids[i][mask[i].bool()].tolist() for i in range(n)])
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        for _step in range(max(r.params.max_tokens for r in requests)):
            next_ids = torch.full((n,), pad, dtype=torch.long)
            for i in range(n):
                if not dec.done[i]:
                    next_ids[i] = dec.step(i, logits[i])
            if all(dec.done):
                break
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype)], dim=1)
            pos = pos[:, -1:] + 1
            logits = model(input_ids=next_ids[:, None], attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True).logits[:, -1, :].float()
        return dec.completions()


def penalise(row: Any, p: Any, counts: dict[int, int], prompt_set: set[int], generated: list[int]) -> Any:
    import torch

    if not counts and not p.repetition_penalty:
        return row
    row = row.clone()
    if counts and (p.presence_penalty or p.frequency_penalty):
        idx = torch.tensor(list(counts.keys()))
        c = torch.tensor(list(counts.values()), dtype=row.dtype)
        row[idx] -= c * p.frequency_penalty + p.presence_penalty
    if p.repetition_penalty and p.repetition_penalty != 1.0:
        idx = torch.tensor(sorted(prompt_set.union(generated)))
        vals = row[idx]
        row[idx] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
    return row

def pick(row: Any, p: Any, gen: Any) -> int:
    import torch

    if p.temperature <= 0:
        return int(row.argmax())
    probs = torch.softmax(row / p.temperature, -1)
    if p.top_p < 1.0:
        sp, si = probs.sort(descending=True)
        keep = sp.cumsum(-1) - sp < p.top_p  # always keeps the most likely token
        sp = sp * keep
        return int(si[torch.multinomial(sp / sp.sum(), 1, generator=gen)])
    return int(torch.multinomial(probs, 1, generator=gen))


#: every engine this module knows, fastest first (what ``auto`` prefers), with the module it
#: needs: measured here with SmolLM2-135M (architecture.md, benchmarks/engines.py).
KNOWN_ENGINES = (("ctranslate2", "ctranslate2"), ("llamacpp", "llama_cpp"), ("transformers", "transformers"))


class RowDecoder:
    """Per-request decoding state for engines that sample in Python, one token at a time.

    Each row has its own torch.Generator (seeded from its request), its own penalties, stop
    strings, max_tokens and logprobs, so a row's answer does not depend on its batch mates.
    """

    def __init__(self, tok: Any, eos_ids: set[int], requests: list[Request], prompt_ids: list[list[int]]):
        import torch

        n = len(requests)
        self.tok, self.eos_ids, self.requests = tok, eos_ids, requests
        self.prompt_lens = [len(p) for p in prompt_ids]
        self.prompt_sets = [set(p) for p in prompt_ids]
        self.gens = [torch.Generator().manual_seed(request_seed(r)) for r in requests]
        self.generated: list[list[int]] = [[] for _ in range(n)]
        self.counts = [dict[int, int]() for _ in range(n)]
        self.done = [False] * n
        self.finish = ["length"] * n
        self.cut: list[str | None] = [None] * n
        self.top: list[list[dict[str, float]] | None] = [[] if r.params.logprobs else None for r in requests]

    def step(self, i: int, row: Any) -> int:
        """Pick row i's next token from its logits; marks the row done when it finishes."""
        import torch

        p, tok = self.requests[i].params, self.tok
        top = self.top[i]
        if top is not None:
            vals, idx = torch.log_softmax(row, -1).topk(int(p.logprobs or 1))
            top.append({tok.decode([int(j)]): float(v) for v, j in zip(vals, idx, strict=True)})
        row = penalise(row, p, self.counts[i], self.prompt_sets[i], self.generated[i])
        tid = pick(row, p, self.gens[i])
        if tid in self.eos_ids:
            self.done[i], self.finish[i] = True, "stop"
            return tid
        self.generated[i].append(tid)
        self.counts[i][tid] = self.counts[i].get(tid, 0) + 1
        if p.stop:
            text = tok.decode(self.generated[i], skip_special_tokens=True)
            k = find_stop(text, p.stop)
            if k >= 0:
                self.done[i], self.finish[i], self.cut[i] = True, "stop", text[:k]
                return tid
        if len(self.generated[i]) >= p.max_tokens:
            self.done[i] = True
        return tid

    def completions(self) -> list[Completion]:
        out = []
        for i, gen in enumerate(self.generated):
            cut = self.cut[i]
            text = cut if cut is not None else self.tok.decode(gen, skip_special_tokens=True)
            out.append(Completion(text, self.finish[i], self.prompt_lens[i], len(gen), self.top[i]))
        return out


def available_engines() -> list[str]:
    """Installed engines, fastest first. Checked without importing them (cheap)."""
    import importlib.util

    return [name for name, module in KNOWN_ENGINES if importlib.util.find_spec(module) is not None]


def make_engine(name: str, model_dir: Path, options: BackendOptions) -> Engine:
    name = resolve_engine_name(name)
    if name == "ctranslate2":
        from .engine_ct2 import CT2Engine

        return CT2Engine(model_dir, options)
    if name == "llamacpp":
        from .engine_llamacpp import LlamaCppEngine

        return LlamaCppEngine(model_dir, options)
    return TransformersEngine(model_dir, options)


def resolve_engine_name(name: str) -> str:
    """The engine ``name`` stands for on this machine (``auto`` = the fastest installed).

    Never loads a model: the cache identity (``model_identity``) is computed from it.
    """
    avail = available_engines()
    if name == "auto":
        return avail[0]
    if name not in avail:
        known = ", ".join(n for n, _ in KNOWN_ENGINES)
        raise InputError(f"unknown or unavailable engine {name!r}; known: {known}; installed here: {', '.join(avail)}")
    return name
