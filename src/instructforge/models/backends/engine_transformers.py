"""Transformers engine: our own batched decoding loop over a transformers model (float32, or
bfloat16 on a CPU with native bfloat16: ``BackendOptions.dtype``, model_files.resolve_dtype).

Not a paper component: the reference engine (always installed; training uses the same model
loader, ``model_files.load_hf_model``). It applies every SamplingParams field exactly, OpenAI's
presence/frequency penalties included (additive on the logits of tokens already generated):
the sampler is decoding.py's ``RowDecoder``.

Why our own loop instead of ``model.generate``: each row gets its own torch.Generator, so a
sampled answer depends on its own seed and not on which other requests share the batch
(resume and the cache stay consistent), and each row can have its own stop strings,
penalties and logprobs.

Three things keep long prompts fast (docs/scaling.md, "Shared prompt prefixes"): rows of a call
that share a long prefix (a template's demonstrations) read it from one copy; every other long
prompt is prefilled alone into a stored prefix that later calls reuse (shared_prefix.py:
attention over [prefix, own tail], merged exactly); and rows that have finished leave the batch
once a quarter of it has, so the rest decode without them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..types import Completion, Request
from . import shared_prefix
from .base import BackendOptions, Engine
from .decoding import RowDecoder, set_torch_threads
from .model_files import load_hf_model, resolve_dtype, resolve_threads
from .shared_prefix import PrefixGroup, last_logits, tail_mask


class TransformersEngine(Engine):
    name = "transformers"
    requires = "transformers"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        import torch

        options = options or BackendOptions()
        set_torch_threads(resolve_threads(options.threads))
        self.model, self.tokenizer = load_hf_model(model_dir)  # float32 (an adapter merges in float32)
        self.dtype = resolve_dtype(options.dtype)
        if self.dtype == "bfloat16":
            self.model.to(torch.bfloat16)
        self.eos_ids = self._eos_ids()
        self.ctx = shared_prefix.install(self.model)
        self.prefixes = shared_prefix.PrefixStore()
        self._lock = threading.Lock()  # one call at a time: the Context is per forward pass

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

        with self._lock, torch.inference_mode():
            return self._decode(texts, requests)

    def score(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        """Log-probability of each continuation token given its prompt: one forward pass over
        prompt + continuation per batch (right-padded), log-softmax (float32) at every position."""
        import torch

        tok, model = self.tokenizer, self.model
        pairs = [
            (tok.encode(p, add_special_tokens=False), tok.encode(c, add_special_tokens=False))
            for p, c in zip(prompts, continuations, strict=True)
        ]
        out: list[list[float]] = []
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        step = 8
        with torch.inference_mode():
            for lo in range(0, len(pairs), step):
                part = pairs[lo : lo + step]
                width = max(len(p) + len(c) for p, c in part)
                ids = torch.full((len(part), width), pad, dtype=torch.long)
                mask = torch.zeros((len(part), width), dtype=torch.long)
                for r, (p, c) in enumerate(part):
                    ids[r, : len(p) + len(c)] = torch.tensor(p + c)
                    mask[r, : len(p) + len(c)] = 1
                logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                for r, (p, c) in enumerate(part):
                    # the token at position j is predicted by the logits at j - 1
                    pos = torch.arange(len(p) - 1, len(p) + len(c) - 1)
                    out.append(logp[r, pos, torch.tensor(c)].tolist() if c else [])
        return out

    def _decode(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        import torch
        from transformers import DynamicCache

        tok, model, ctx = self.tokenizer, self.model, self.ctx
        prompt_ids = [tok.encode(t, add_special_tokens=False) for t in texts]
        n = len(texts)
        # rows that share a long prefix (a template's demonstrations) read it from one copy
        plan = self.prefixes.assign(model, ctx, prompt_ids) if ctx is not None else []
        starts = [0] * n
        for members, used, _kv in plan:
            for i in members:
                starts[i] = used
        tails = [ids[s:] for ids, s in zip(prompt_ids, starts, strict=True)]
        width = max(map(len, tails))
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.full((n, width), pad, dtype=torch.long)
        valid = torch.zeros((n, width), dtype=torch.bool)
        for i, t in enumerate(tails):  # left-padded: every row's next token is at the end
            ids[i, width - len(t) :] = torch.tensor(t)
            valid[i, width - len(t) :] = True
        pos = torch.tensor(starts)[:, None] + (valid.cumsum(-1) - 1).clamp(min=0)
        alive = list(range(n))  # the request of each row of the batch

        def regroup() -> None:
            """The prefix groups as rows of the current batch (rows that finished are gone)."""
            if ctx is not None:
                row = {r: j for j, r in enumerate(alive)}
                ctx.groups = [
                    PrefixGroup(torch.tensor([row[r] for r in m if r in row]), kv)
                    for m, _used, kv in plan
                    if any(r in row for r in m)
                ]

        def forward(step_ids: torch.Tensor, q_len: int) -> torch.Tensor:
            mask = tail_mask(valid, q_len) if ctx is not None else valid.long()
            return last_logits(model, step_ids, mask, pos, cache)

        cache = DynamicCache()
        regroup()
        try:
            logits = forward(ids, width)
            dec = RowDecoder(tok, self.eos_ids, requests, prompt_ids)
            for _step in range(max(r.params.max_tokens for r in requests)):
                next_ids = torch.full((len(alive),), pad, dtype=torch.long)
                for j, i in enumerate(alive):
                    if not dec.done[i]:
                        next_ids[j] = dec.step(i, logits[j])
                if all(dec.done):
                    break
                keep = [j for j, i in enumerate(alive) if not dec.done[i]]
                if len(keep) <= len(alive) * 3 // 4:  # a quarter of the rows finished: drop them
                    idx = torch.tensor(keep)
                    cache.batch_select_indices(idx)
                    valid, pos, next_ids = valid[idx], pos[idx], next_ids[idx]
                    alive = [alive[j] for j in keep]
                    regroup()
                valid = torch.cat([valid, torch.ones((len(alive), 1), dtype=torch.bool)], dim=1)
                pos = pos[:, -1:] + 1
                logits = forward(next_ids[:, None], 1)
        finally:
            if ctx is not None:
                ctx.groups = []
        return dec.completions()
