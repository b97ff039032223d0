"""Transformers engine: our own batched decoding loop over a transformers fp32 model.

Not a paper component: the reference engine (always installed; training uses the same model
loader, ``model_files.load_hf_model``). It applies every SamplingParams field exactly, OpenAI's
presence/frequency penalties included (additive on the logits of tokens already generated):
the sampler is decoding.py's ``RowDecoder``.

Why our own loop instead of ``model.generate``: each row gets its own torch.Generator, so a
sampled answer depends on its own seed and not on which other requests share the batch
(resume and the cache stay consistent), and each row can have its own stop strings,
penalties and logprobs.
"""

from __future__ import annotations

from pathlib import Path

from ..types import Completion, Request
from .base import BackendOptions, Engine
from .decoding import RowDecoder, set_torch_threads
from .model_files import load_hf_model, resolve_threads


class TransformersEngine(Engine):
    name = "transformers"
    requires = "transformers"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        set_torch_threads(resolve_threads((options or BackendOptions()).threads))
        self.model, self.tokenizer = load_hf_model(model_dir)
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

    def score(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        """Log-probability of each continuation token given its prompt: one fp32 forward pass
        over prompt + continuation per batch (right-padded), log-softmax at every position."""
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

        tok, model = self.tokenizer, self.model
        enc = tok(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        n = len(texts)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        logits = (
            model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)
            .logits[:, -1, :]
            .float()
        )
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
            logits = (
                model(
                    input_ids=next_ids[:, None],
                    attention_mask=mask,
                    position_ids=pos,
                    past_key_values=cache,
                    use_cache=True,
                )
                .logits[:, -1, :]
                .float()
            )
        return dec.completions()
