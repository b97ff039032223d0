"""Generation engines for local models: which exist, which are installed, and ``make_engine``.

An engine (``base.Engine``) takes rendered prompt texts plus their Requests and returns
Completions. Every engine honours the same SamplingParams: temperature (0 = greedy), top_p,
max_tokens, stop strings, per-request seed, penalties and top-N logprobs (decoding.py);
engine_ct2.py and engine_llamacpp.py document where they differ. Not a paper component: the
engines only decide how fast the paper's generation steps run.

``--engine auto`` (the default) takes the fastest installed engine: ctranslate2 (int8), then
llama.cpp, then transformers. Training always uses transformers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...core.errors import InputError
from .base import BackendOptions, Engine
from .engine_ct2 import CT2Engine
from .engine_llamacpp import LlamaCppEngine
from .engine_transformers import TransformersEngine

#: every engine, fastest first (what ``auto`` prefers): measured here with SmolLM2-135M
#: (docs/scaling.md "CPU engines", benchmarks/engines.py)
ENGINES: tuple[type[Engine], ...] = (CT2Engine, LlamaCppEngine, TransformersEngine)
#: (engine name, module it needs), fastest first
KNOWN_ENGINES = tuple((e.name, e.requires) for e in ENGINES)


def available_engines() -> list[str]:
    """Installed engines, fastest first. Checked without importing them (cheap)."""
    return [name for name, module in KNOWN_ENGINES if importlib.util.find_spec(module) is not None]


def resolve_engine_name(name: str) -> str:
    """The engine ``name`` stands for on this machine (``auto`` = the fastest installed).

    Never loads a model: the cache identity (``LocalBackend.identity``) is computed from it.
    """
    avail = available_engines()
    if name == "auto":
        return avail[0]
    if name not in avail:
        known = ", ".join(n for n, _ in KNOWN_ENGINES)
        raise InputError(f"unknown or unavailable engine {name!r}; known: {known}; installed here: {', '.join(avail)}")
    return name


def make_engine(name: str, model_dir: Path, options: BackendOptions) -> Engine:
    """The engine ``name`` (resolved as above) on ``model_dir``."""
    name = resolve_engine_name(name)
    cls = next(e for e in ENGINES if e.name == name)
    return cls(model_dir, options)
