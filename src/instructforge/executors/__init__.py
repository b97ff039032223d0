"""Executors decide *where* model calls run; stages only say *what* to run.

An executor takes a list of Requests and yields ``(indices, completions)`` chunks as they
finish. The local executor runs the backend in this process, batch by batch; the Ray executor
(executors/ray.py) spreads the chunks over an actor pool. The driver (LLM client) stays the
single writer into the cache and the run store either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from ..backends.base import Backend
from ..records import Completion, Request


class Executor(Protocol):
    batch_size: int

    def run(self, requests: list[Request]) -> Iterator[tuple[list[int], list[Completion]]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs the backend here. The backend is built on first use, so a fully cached run never
    loads a model."""

    def __init__(self, factory: Callable[[], Backend], batch_size: int | None = None):
        self._factory = factory
        self._backend: Backend | None = None
        self._batch_size = batch_size

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self._factory()
        return self._backend

    def warm(self) -> None:
        _ = self.backend

    @property
    def batch_size(self) -> int:
        return self._batch_size or self.backend.batch_size

    def run(self, requests: list[Request]) -> Iterator[tuple[list[int], list[Completion]]]:
        bs = max(1, self.batch_size)
        for start in range(0, len(requests), bs):
            idx = list(range(start, min(start + bs, len(requests))))
            yield idx, self.backend.generate([requests[i] for i in idx])

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
