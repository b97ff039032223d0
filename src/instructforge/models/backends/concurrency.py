"""How many requests an HTTP backend keeps in flight: a fixed number, or ``--concurrency auto``.

Not a paper component. ``auto`` is AIMD over measured windows (the congestion control of TCP
applied to an inference server): a window closes after ``limit`` answers, i.e. about one
round trip. While the throughput of the last window beats the best seen by ``gain`` the limit
grows (doubling until the first sign of saturation, then by an eighth); when throughput stops
rising (it is within ``gain`` of the best of the last ``memory`` windows) but latency has grown
past ``latency_tolerance`` x the lowest latency at which that throughput was reached, the
server is queueing our requests without serving more, and the limit shrinks by ``decrease``;
otherwise it creeps up by a sixteenth, to find out whether the server can now take more.
A 429 or 503 halves it at once and pauses new requests for the server's ``Retry-After``. Rising latency alone never shrinks the window: on a batching server
(vLLM) latency grows with the batch while throughput still rises, which is what we want.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class FixedLimit:
    """``--concurrency N``: always N."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self.pause_until = 0.0

    def on_answer(self, latency: float) -> None:
        pass

    def on_overload(self, retry_after: float | None) -> None:
        pass

    def describe(self) -> str:
        return str(self.limit)


class AdaptiveLimit:
    """``--concurrency auto``. ``clock`` is injectable so the tests can drive it."""

    def __init__(
        self,
        initial: int = 32,
        maximum: int = 1024,
        *,
        minimum: int = 1,
        gain: float = 1.05,
        latency_tolerance: float = 1.5,
        decrease: float = 0.8,
        memory: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = max(minimum, min(initial, maximum))
        self.minimum, self.maximum = minimum, maximum
        self.gain, self.latency_tolerance, self.decrease, self.memory = gain, latency_tolerance, decrease, memory
        self.clock = clock
        self.slow_start = True
        self.pause_until = 0.0
        self.history: list[tuple[int, float, float]] = []  # (limit, throughput, mean latency) per window
        self._reset()

    def _reset(self) -> None:
        self._start = self.clock()
        self._count = 0
        self._latency_sum = 0.0

    def on_answer(self, latency: float) -> None:
        self._count += 1
        self._latency_sum += latency
        if self._count < self.limit:
            return
        elapsed = max(self.clock() - self._start, 1e-9)
        throughput, mean_latency = self._count / elapsed, self._latency_sum / self._count
        recent = self.history[-self.memory :]
        best = max((t for _, t, _ in recent), default=0.0)
        # the latency at which the server gave (about) that throughput with the least queueing
        fastest = min((lat for _, t, lat in self.history if t * self.gain >= best), default=mean_latency)
        self.history.append((self.limit, round(throughput, 3), round(mean_latency, 4)))
        if throughput > best * self.gain:  # still rising: more requests are served, not queued
            step = self.limit if self.slow_start else max(1, self.limit // 8)
            self.limit = min(self.maximum, self.limit + step)
        elif mean_latency > self.latency_tolerance * fastest:  # flat, and waiting in the server's queue
            self.slow_start = False
            self.limit = max(self.minimum, int(self.limit * self.decrease))
        else:  # flat, little queueing: probe a little higher (the additive part of AIMD)
            self.slow_start = False
            self.limit = min(self.maximum, self.limit + max(1, self.limit // 16))
        self._reset()

    def on_overload(self, retry_after: float | None) -> None:
        self.slow_start = False
        self.limit = max(self.minimum, self.limit // 2)
        if retry_after:
            self.pause_until = max(self.pause_until, self.clock() + min(retry_after, 60.0))
        self._reset()

    def describe(self) -> str:
        return f"auto ({self.limit})"


def make_limit(concurrency: int, adaptive: bool) -> FixedLimit | AdaptiveLimit:
    """``adaptive``: start at 32 and never exceed ``concurrency``; else exactly ``concurrency``."""
    return AdaptiveLimit(initial=32, maximum=concurrency) if adaptive else FixedLimit(concurrency)
