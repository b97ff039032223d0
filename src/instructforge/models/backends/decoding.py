"""Decoding primitives shared by the engines and the HTTP/vLLM backends.

``request_seed`` (one request's RNG seed), ``find_stop`` (stop strings), the additive
presence/frequency and HF repetition penalties (``penalise``), the sampler (``pick``: greedy at
temperature 0, else top_p) and ``RowDecoder``, the per-row state of an engine that samples in
Python. Not a paper component: it fixes the SamplingParams semantics every engine shares
(docs/scaling.md, "Sampling semantics per engine").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..types import Completion, Request


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


def set_torch_threads(n: int) -> None:
    """Run torch's CPU ops (a transformers forward pass, the Python sampler) on ``n`` threads."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def penalise(row: Any, p: Any, counts: dict[int, int], prompt_set: set[int], generated: list[int]) -> Any:
    """One row of logits after OpenAI's additive presence/frequency penalties (over generated
    tokens) and HF's multiplicative repetition penalty (over prompt and generated tokens)."""
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
    """The next token: argmax at temperature 0, else a top_p sample drawn with ``gen``."""
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
