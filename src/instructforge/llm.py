"""The LLM client every stage uses: cache in front, executor behind, stats on the side.

``llm.generate(requests, desc=...)`` returns one Completion per Request, in order. Cached
answers cost nothing; misses go to the executor in chunks and are written to the cache as each
chunk finishes, so a killed run keeps everything it already paid for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ui
from .backends import BackendOptions, load_backend, model_identity
from .cache import CallCache, cache_key
from .executors import Executor, LocalExecutor
from .records import Completion, Request


@dataclass
class Stats:
    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    finish_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["tokens_per_second"] = (
            round(self.completion_tokens / self.model_seconds, 2) if self.model_seconds else None
        )
        return d

    def merge(self, other: dict[str, Any]) -> None:
        for k in ("requests", "cache_hits", "cache_misses", "prompt_tokens", "completion_tokens", "model_seconds"):
            setattr(self, k, getattr(self, k) + (other.get(k) or 0))


class LLM:
    def __init__(
        self,
        spec: str = "embedded",
        options: BackendOptions | None = None,
        *,
        cache: CallCache | None = None,
        executor: Executor | None = None,
    ):
        self.spec = spec
        self.options = options or BackendOptions()
        self.model_id = model_identity(spec, self.options)
        self.cache = cache
        self.executor = executor or LocalExecutor(lambda: load_backend(spec, self.options))
        self.stats = Stats()

    @property
    def backend(self) -> Any:
        """The in-process backend (local executor only): for stages that need the model object."""
        return getattr(self.executor, "backend", None)

    def generate(self, requests: Sequence[Request], desc: str = "generating", *, by_length: bool = True) -> list[Completion]:
        """Completions for ``requests``, in their order. ``by_length=False`` keeps the caller's
        order for the model calls too (a stage that has ordered its requests itself)."""
        requests = list(requests)
        keys = [cache_key(self.model_id, r) for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        if self.cache is not None:
            hits = self.cache.get_many(keys)
            for i, k in enumerate(keys):
                if k in hits:
                    results[i] = hits[k]
        # Misses go to the executor shortest prompt first: its chunks then hold prompts of
        # similar length, so no engine pads (transformers) or forces (ctranslate2) long ones
        # beside short ones. Stable, so equal lengths keep the stage's order.
        miss = [i for i, r in enumerate(results) if r is None]
        if by_length:
            miss.sort(key=lambda i: requests[i].prompt_chars())
        self.stats.requests += len(requests)
        self.stats.cache_hits += len(requests) - len(miss)
        self.stats.cache_misses += len(miss)
        if miss:
            warm = getattr(self.executor, "warm", None)
            if warm is not None:
                warm()  # load the model before the clock starts: tok/s measures generation
            with ui.progress(desc, len(miss)) as bar:
                t0 = time.perf_counter()
                for idx, comps in self.executor.run([requests[i] for i in miss]):
                    real = [miss[j] for j in idx]
                    for i, c in zip(real, comps, strict=True):
                        results[i] = c
                        self.stats.prompt_tokens += c.prompt_tokens
                        self.stats.completion_tokens += c.completion_tokens
                        self.stats.finish_reasons[c.finish_reason] = self.stats.finish_reasons.get(c.finish_reason, 0) + 1
                    if self.cache is not None:
                        self.cache.put_many((keys[i], self.model_id, c) for i, c in zip(real, comps, strict=True))
                    bar.advance(len(idx), tokens=sum(c.completion_tokens for c in comps))
                self.stats.model_seconds += time.perf_counter() - t0
        return [r for r in results if r is not None]

    def complete(self, request: Request) -> Completion:
        return self.generate([request])[0]

    def close(self) -> None:
        self.executor.close()
        if self.cache is not None:
            self.cache.close()


def default_cache() -> CallCache:
    from .backends.model_files import cache_root

    return CallCache(cache_root() / "calls.sqlite")


def open_llm(
    spec: str = "embedded",
    options: BackendOptions | None = None,
    *,
    use_cache: bool = True,
    cache_path: Path | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    ray_actors: int | None = None,
    ray_num_gpus: float = 0.0,
) -> LLM:
    """Build the client the CLI and the Python API use."""
    options = options or BackendOptions()
    cache = (CallCache(cache_path) if cache_path else default_cache()) if use_cache else None
    ex: Executor | None = None
    if executor == "ray":
        from .executors.ray import RayExecutor

        ex = RayExecutor(spec, options, address=ray_address, num_actors=ray_actors, num_gpus=ray_num_gpus)
    return LLM(spec, options, cache=cache, executor=ex)
