"""Executors decide *where* model calls run; stages only say *what* to run.

An executor is a window of requests in flight: ``submit`` hands it ``(id, request)`` items (the
client never gives it more than ``window()`` at once), ``poll`` returns ``(id, completion)``
pairs as they finish. The local executor runs the backend in this process: a streaming
backend (openai, vllm) gets every request the moment it is submitted; a batch backend (the CPU
engines) is fed by one worker thread that takes whatever is queued, up to ``batch_size``, each
time it is free. The Ray executor (executors/ray.py) keeps every actor busy the same way. The
driver (``LLM``'s stream) stays the single writer into the cache and the run store either way.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from ...core.errors import BackendError, InstructforgeError
from ..backends.base import Backend
from ..types import Completion, Request

Item = tuple[int, Request]
Result = tuple[int, Completion]


class Executor(Protocol):
    @property
    def backend(self) -> Backend | None:
        """The backend when it runs in this process (built on first use: for stages that need
        the model object, e.g. to ask ``supports_logprobs``); None when it runs elsewhere (Ray)."""
        ...

    def window(self) -> int:
        """Requests it should hold at once to be fully busy now."""
        ...

    def submit(self, items: Sequence[Item]) -> None: ...

    def streams(self) -> bool:
        """True when answers come back one by one as each finishes (a streaming backend);
        False when they come back in whole batches."""
        ...

    def poll(self, timeout: float | None) -> list[Result]:
        """What finished, waiting up to ``timeout`` seconds for the first; raises a backend's
        fatal error (e.g. a server that stopped answering)."""
        ...

    def cancel(self) -> None:
        """Forget everything submitted and not yet returned."""
        ...

    def warm(self) -> None:
        """Load the model now (before the clock of a progress bar starts)."""
        ...

    def close(self) -> None: ...


def fatal(exc: BaseException, kind: str) -> InstructforgeError:
    """A backend failure as one line for the CLI (an engine crash is not a traceback)."""
    if isinstance(exc, InstructforgeError):
        return exc
    return BackendError(f"{kind} backend failed: {type(exc).__name__}: {exc}")


class LocalExecutor:
    """Runs the backend here. The backend is built on first use, so a fully cached run never
    loads a model."""

    def __init__(self, factory: Callable[[], Backend], batch_size: int | None = None, window_hint: int = 16):
        self._factory = factory
        self._window_hint = window_hint
        self._backend: Backend | None = None
        self._batch_size = batch_size
        self._done: queue.SimpleQueue[list[tuple[int, Completion | BaseException]]] = queue.SimpleQueue()
        self._todo: deque[Item] = deque()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._generation = 0  # bumped by cancel(): a batch started before it is discarded
        self._closed = False

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

    def window(self) -> int:
        if self._backend is None:
            return self._window_hint  # not built yet: nothing has missed the cache so far
        b = self._backend
        # A batch backend gets exactly one batch: what it runs next is then decided when it
        # is free, so the client's priorities (downstream work first) decide each batch, and a
        # batch's members depend on the answers, never on timing.
        return max(1, b.window() if b.streaming else self.batch_size)

    def streams(self) -> bool:
        # not built yet: nothing has missed the cache, and asking must not load a model
        return self._backend is not None and self._backend.streaming

    def submit(self, items: Sequence[Item]) -> None:
        if not items:
            return
        b = self.backend
        if b.streaming:
            b.start(items, lambda rid, res: self._done.put([(rid, res)]))
            return
        with self._cond:
            self._todo.extend(items)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True, name="engine-worker")
                self._worker.start()
            self._cond.notify()

    def _work(self) -> None:
        b = self.backend
        while True:
            with self._cond:
                while not self._todo and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                n = min(len(self._todo), max(1, self.batch_size))
                batch = [self._todo.popleft() for _ in range(n)]
                generation = self._generation
            out: list[tuple[int, Completion | BaseException]]
            try:
                comps = b.generate([r for _, r in batch])
                out = [(rid, c) for (rid, _), c in zip(batch, comps, strict=True)]
            except BaseException as e:  # handed to the client thread, which raises it
                out = [(batch[0][0], e)]
            with self._cond:
                if generation == self._generation:
                    self._done.put(out)

    def poll(self, timeout: float | None) -> list[Result]:
        try:
            got = self._done.get(timeout=timeout) if timeout is None or timeout > 0 else self._done.get_nowait()
        except queue.Empty:
            return []
        while True:
            try:
                got += self._done.get_nowait()
            except queue.Empty:
                break
        out: list[Result] = []
        for rid, res in got:
            if isinstance(res, BaseException):
                raise fatal(res, self.backend.kind) from res
            out.append((rid, res))
        return out

    def cancel(self) -> None:
        with self._cond:
            self._todo.clear()
            self._generation += 1
        if self._backend is not None and self._backend.streaming:
            self._backend.cancel()
        while True:  # results already delivered belong to the cancelled requests too
            try:
                self._done.get_nowait()
            except queue.Empty:
                break

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._todo.clear()
            self._cond.notify_all()
        if self._worker is not None:
            # A batch in progress normally ends long before; after Ctrl-C we do not wait for
            # it (a daemon thread: it dies with the process).
            self._worker.join(timeout=5)
        if self._backend is not None:
            self._backend.close()
