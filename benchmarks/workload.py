"""The workload the engine benchmarks share (engines.py, embedded_batch.py, ray_overhead.py):
sampled requests (temperature 0.7, top-p 0.9, a fixed seed each) for a short paragraph on one
of 16 topics."""

from __future__ import annotations

from instructforge.models.types import Request, SamplingParams

TOPICS = [
    "the ocean",
    "a library",
    "winter mornings",
    "bicycles",
    "volcanoes",
    "honey bees",
    "a lighthouse",
    "chess",
    "rainforests",
    "trains",
    "the moon",
    "bread baking",
    "city parks",
    "glaciers",
    "owls",
    "jazz",
]


def paragraph_requests(n: int, max_tokens: int, first_seed: int = 0) -> list[Request]:
    """``n`` requests, request i with seed ``first_seed + i``."""
    p = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=max_tokens)
    return [
        Request.chat(f"Write a short paragraph about {TOPICS[i % len(TOPICS)]}.", params=p, seed=first_seed + i)
        for i in range(n)
    ]
