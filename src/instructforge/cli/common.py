"""What the command modules share: the table of model calls printed after a command."""

from __future__ import annotations

from ..api.run import LLM, Stats
from ..core import ui


def print_llm_summary(llm: LLM | Stats, title: str = "model calls") -> None:
    s = llm if isinstance(llm, Stats) else llm.stats
    ui.show(
        ui.table(
            title,
            ["requests", "cache hits", "cache misses", "prompt tok", "completion tok", "tok/s"],
            [
                [
                    s.requests,
                    s.cache_hits,
                    s.cache_misses,
                    s.prompt_tokens,
                    s.completion_tokens,
                    s.as_dict()["tokens_per_second"] or "-",
                ]
            ],
        )
    )
    if not ui.is_quiet():
        ui.console.print(f"cache: {s.cache_hits} hits, {s.cache_misses} misses", highlight=False)
