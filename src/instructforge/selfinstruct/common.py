"""Shared plumbing of the Self-Instruct stages: request building, the stage context (store +
LLM + config) and the run statistics kept in the store's meta table. (Prompt files are read by
instructforge.core.prompts.)"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..data.store import RunStore
from ..models.client import LLM
from ..models.types import Request, SamplingParams
from .config import GenerateConfig

STAT_KEYS = ("requests", "prompt_tokens", "completion_tokens", "cache_hits", "cache_misses", "errors")


def make_request(prompt: str, params: SamplingParams, cfg: GenerateConfig, sample_index: int = 0) -> Request:
    """``prompt_style: chat`` sends the prompt as one user message (instruction-tuned models);
    ``raw`` sends it as a completion prompt (base models, ``--api completions``)."""
    if cfg.prompt_style == "raw":
        return Request.raw(prompt, params=params, seed=cfg.seed, sample_index=sample_index)
    return Request.chat(prompt, params=params, seed=cfg.seed, sample_index=sample_index)


@dataclass
class StageContext:
    store: RunStore
    llm: LLM
    cfg: GenerateConfig
    started: float = field(default_factory=time.perf_counter)
    base_stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Stats are accumulated across resumes: what earlier processes committed + this one.
        self.base_stats = dict(self.store.get_meta("stats", {}) or {})

    def current_stats(self) -> dict[str, Any]:
        s = self.llm.stats
        out: dict[str, Any] = {k: int(self.base_stats.get(k, 0)) + int(getattr(s, k)) for k in STAT_KEYS}
        out["wall_seconds"] = round(
            float(self.base_stats.get("wall_seconds", 0.0)) + time.perf_counter() - self.started, 3
        )
        return out

    def commit_stats(self) -> None:
        """Call inside the stage's transaction, so stats and records commit together."""
        self.store.set_meta("stats", self.current_stats())
