"""Generation engines for local models: which exist, which are installed, and ``make_engine``.

An engine (``base.Engine``) takes rendered prompt texts plus their Requests and returns
Completions. Every engine honours the same SamplingParams: temperature (0 = greedy), top_p,
max_tokens, stop strings, per-request seed, penalties and top-N logprobs (decoding.py);
engine_ct2.py and engine_llamacpp.py document where they differ. Not a paper component: the
engines only decide how fast the paper's generation steps run.

``--engine auto`` (the default) takes the fastest installed engine: ctranslate2 (int8), then
llama.cpp, then transformers. Where ctranslate2 is installed, ``auto`` is the ``SplitEngine``:
ctranslate2 for prompts shorter than ``LONG_PROMPT_TOKENS``, transformers (with its shared-prefix
attention, shared_prefix.py) for longer ones. ctranslate2's step time grows steeply with the
context (batch 16: 52 ms per step after ~40-token prompts, ~1.6 s after ~1,000-token ones) while
the transformers engine reads a shared prefix once; measured in benchmarks/small_run.py and
docs/scaling.md ("CPU engines"). Training always uses transformers (in float32); the
transformers engine decodes in bfloat16 where the CPU has it natively (``--dtype``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...core.errors import InputError
from ..types import Completion, Request
from .base import BackendOptions, Engine
from .engine_ct2 import CT2Engine
from .engine_llamacpp import LlamaCppEngine
from .engine_transformers import TransformersEngine
from .model_files import resolve_dtype

#: ``auto`` sends a prompt of at least this many tokens to the transformers engine: the
#: Self-Instruct classification (~840) and instance prompts (~970-1,070) go there, the bootstrap
#: prompts (~240) stay on ctranslate2
LONG_PROMPT_TOKENS = 600

#: every engine, fastest first (what ``auto`` prefers): measured here with SmolLM2-135M
#: (docs/scaling.md "CPU engines", benchmarks/engines.py)
ENGINES: tuple[type[Engine], ...] = (CT2Engine, LlamaCppEngine, TransformersEngine)
#: (engine name, module it needs), fastest first
KNOWN_ENGINES = tuple((e.name, e.requires) for e in ENGINES)


def available_engines() -> list[str]:
    """Installed engines, fastest first. Checked without importing them (cheap)."""
    return [name for name, module in KNOWN_ENGINES if importlib.util.find_spec(module) is not None]


class SplitEngine(Engine):
    """``auto`` where ctranslate2 is installed: each call's rows by prompt length, the short
    ones to ctranslate2, the long ones to the transformers engine (loaded at the first long
    prompt). Scoring stays on ctranslate2."""

    name = SPLIT = f"ctranslate2<{LONG_PROMPT_TOKENS}+transformers"
    requires = "ctranslate2"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        self.model_dir, self.options = model_dir, options
        self.short = CT2Engine(model_dir, options)
        self.tokenizer = self.short.tokenizer
        self._long: TransformersEngine | None = None

    @property
    def long(self) -> TransformersEngine:
        if self._long is None:
            self._long = TransformersEngine(self.model_dir, self.options)
        return self._long

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        long = [len(self.tokenizer.encode(t, add_special_tokens=False)) >= LONG_PROMPT_TOKENS for t in texts]
        out: list[Completion | None] = [None] * len(texts)
        for flag in (False, True):
            rows = [i for i, x in enumerate(long) if x is flag]
            if not rows:
                continue  # and the transformers engine is not loaded for a call without long rows
            engine = self.long if flag else self.short
            for i, c in zip(rows, engine.generate([texts[i] for i in rows], [requests[i] for i in rows]), strict=True):
                out[i] = c
        return [c for c in out if c is not None]

    def score(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        return self.short.score(prompts, continuations)


def resolve_engine_name(name: str) -> str:
    """The engine ``name`` stands for on this machine (``auto`` = the fastest installed; with
    ctranslate2, the ``SplitEngine``).

    Never loads a model: the cache identity (``LocalBackend.identity``) is computed from it.
    """
    avail = available_engines()
    if name == "auto":
        return SplitEngine.SPLIT if avail[0] == CT2Engine.name else avail[0]
    if name not in avail:
        known = ", ".join(n for n, _ in KNOWN_ENGINES)
        raise InputError(f"unknown or unavailable engine {name!r}; known: {known}; installed here: {', '.join(avail)}")
    return name


def engine_identity(options: BackendOptions) -> str:
    """The engine part of the cache identity: its resolved name, with ``@bf16`` where the
    transformers engine decodes (``transformers``, or the split's long prompts) in bfloat16
    (model_files.resolve_dtype): its answers differ from float32's. Never loads a model."""
    name = resolve_engine_name(options.engine)
    if name in (TransformersEngine.name, SplitEngine.SPLIT) and resolve_dtype(options.dtype) == "bfloat16":
        return f"{name}@bf16"
    return name


def make_engine(name: str, model_dir: Path, options: BackendOptions) -> Engine:
    """The engine ``name`` (resolved as above) on ``model_dir``."""
    name = resolve_engine_name(name)
    classes: tuple[type[Engine], ...] = (SplitEngine, *ENGINES)
    cls = next(e for e in classes if e.name == name)
    return cls(model_dir, options)
