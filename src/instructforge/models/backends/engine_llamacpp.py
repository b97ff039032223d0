"""llama.cpp engine (optional): batched multi-sequence decoding of the embedded GGUF.

Not a paper component: a speed substitute (docs/scaling.md, "CPU engines").
``llama-cpp-python`` ships only as an sdist (a ~5 min compile), so it is not a project
dependency; ``--engine llamacpp`` works when it is installed (``scripts/install_llamacpp.sh``
builds it with flags that work on this machine type). It needs a GGUF: the embedded
model's (recorded in its converted dir) or a ``*.gguf`` inside an ``hf:DIR``.

llama.cpp only runs the network here: all sequences of a call share one context (one KV
sequence each) and are decoded together, one ``llama_decode`` per step. Token choice reuses the
transformers engine's sampler (decoding.py) on llama.cpp's logits, so every SamplingParams field has exactly
the transformers semantics: greedy at temperature 0, top_p, max_tokens, stop strings checked
after every token, a per-request seed (own RNG per row: a sample does not depend on its batch),
additive presence/frequency penalties, HF repetition_penalty, top-N logprobs of the raw logits.
Prompts are tokenized by the model dir's HF tokenizer (the same vocabulary as the GGUF).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.errors import InputError
from ..types import Completion, Request
from .base import BackendOptions, Engine
from .decoding import RowDecoder, set_torch_threads
from .model_files import find_gguf, load_tokenizer, resolve_threads

PREFILL_CHUNK = 512


def prefill_items(prompts: list[list[int]]) -> list[tuple[int, int, int, bool]]:
    """``decode`` items for every prompt token (sequence = prompt index), logits for the last."""
    return [(s, pos, t, pos == len(p) - 1) for s, p in enumerate(prompts) for pos, t in enumerate(p)]


class LlamaCppEngine(Engine):
    name = "llamacpp"
    requires = "llama_cpp"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        import llama_cpp as L

        self.L = L
        self.gguf = find_gguf(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.threads = resolve_threads((options or BackendOptions()).threads)
        set_torch_threads(self.threads)  # the sampler (RowDecoder) runs on torch
        L.llama_backend_init()
        L.llama_log_set(_silent_callback(L), ctypes.c_void_p())
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(str(self.gguf).encode(), mp)
        if not self.model:
            raise InputError(f"{self.gguf}: llama.cpp could not load this GGUF")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.eos_ids = (
            {t for t in range(self.n_vocab) if L.llama_vocab_is_eog(self.vocab, t)} if self.n_vocab < 300_000 else set()
        )
        self.eos_ids.add(int(self.tokenizer.eos_token_id))
        self._ctx = None
        self._ctx_shape = (0, 0)

    def _context(self, n_seq: int, per_seq: int) -> Any:
        """A context with one KV sequence per row; reused while it is big enough."""
        L = self.L
        if self._ctx is not None and self._ctx_shape[0] >= n_seq and self._ctx_shape[1] >= per_seq:
            L.llama_memory_clear(L.llama_get_memory(self._ctx), True)
            return self._ctx
        if self._ctx is not None:
            L.llama_free(self._ctx)
        per_seq = -(-per_seq // 256) * 256
        cp = L.llama_context_default_params()
        cp.n_ctx = n_seq * per_seq
        cp.n_batch = max(PREFILL_CHUNK, n_seq)
        cp.n_ubatch = max(PREFILL_CHUNK, n_seq)
        cp.n_seq_max = n_seq
        cp.n_threads = cp.n_threads_batch = self.threads
        self._ctx = L.llama_init_from_model(self.model, cp)
        if not self._ctx:
            raise InputError(f"{self.gguf}: llama.cpp could not create a context for {n_seq} sequences")
        self._ctx_shape = (n_seq, per_seq)
        return self._ctx

    def decode(self, ctx: Any, items: list[tuple[int, int, int, bool]], on_logits: Callable[[int, int], None]) -> None:
        """Decode (seq, pos, token, want_logits) items, one ``llama_decode`` per
        ``PREFILL_CHUNK`` of them; ``on_logits(seq, j)`` for each item that wants logits, right
        after the decode that made them (row ``j`` of that batch; the next decode overwrites it).
        benchmarks/engines.py samples there with llama.cpp's own sampler."""
        L = self.L
        for start in range(0, len(items), PREFILL_CHUNK):
            part = items[start : start + PREFILL_CHUNK]
            batch = L.llama_batch_init(len(part), 0, 1)
            try:
                for j, (seq, pos, tok, want) in enumerate(part):
                    batch.token[j] = tok
                    batch.pos[j] = pos
                    batch.n_seq_id[j] = 1
                    batch.seq_id[j][0] = seq
                    batch.logits[j] = want
                batch.n_tokens = len(part)
                rc = L.llama_decode(ctx, batch)
                if rc != 0:
                    raise RuntimeError(f"llama_decode failed ({rc}): context too small?")
                for j, (seq, _pos, _tok, want) in enumerate(part):
                    if want:
                        on_logits(seq, j)
            finally:
                L.llama_batch_free(batch)

    def _logits(self, ctx: Any, items: list[tuple[int, int, int, bool]]) -> dict[int, Any]:
        """``decode`` keeping a copy of each wanted logits row: {seq: logits tensor}."""
        import numpy as np
        import torch

        out: dict[int, Any] = {}

        def keep(seq: int, j: int) -> None:
            row = np.ctypeslib.as_array(self.L.llama_get_logits_ith(ctx, j), shape=(self.n_vocab,))
            out[seq] = torch.from_numpy(row.copy())

        self.decode(ctx, items, keep)
        return out

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        tok = self.tokenizer
        n = len(texts)
        prompts = [tok.encode(t, add_special_tokens=False) for t in texts]
        ctx = self._context(n, max(len(p) + r.params.max_tokens + 1 for p, r in zip(prompts, requests, strict=True)))
        logits = self._logits(ctx, prefill_items(prompts))
        dec = RowDecoder(tok, self.eos_ids, requests, prompts)
        while not all(dec.done):
            step: list[tuple[int, int, int, bool]] = []
            for i in range(n):
                if dec.done[i]:
                    continue
                tid = dec.step(i, logits[i])
                if not dec.done[i]:
                    step.append((i, len(prompts[i]) + len(dec.generated[i]) - 1, tid, True))
            if step:
                logits = self._logits(ctx, step)
        return dec.completions()

    def close(self) -> None:
        if self._ctx is not None:
            self.L.llama_free(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
            self.L.llama_model_free(self.model)


def _silent(level: int, text: bytes, user_data: Any) -> None:
    return None


_SILENT: list[Any] = []  # the ctypes callback, made once and kept alive for llama.cpp


def _silent_callback(L: Any) -> Any:
    """A log callback that drops llama.cpp's logs (its type lives in the bindings)."""
    if not _SILENT:
        _SILENT.append(L.llama_log_callback(_silent))
    return _SILENT[0]
