"""The backend interface: one method, ``generate(batch) -> completions``.

A backend turns a batch of Requests into Completions, in order. Concurrency, retries,
timeouts and batching live inside the backend; stages never see them. Capabilities are class
flags, so a stage can ask (e.g. ``supports_logprobs``) instead of guessing.

A backend that schedules requests itself (an async HTTP client, an engine with continuous
batching) also sets ``streaming`` and implements ``start``: the executor then hands it each
request as soon as there is room (``window()``) instead of waiting for whole batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..records import Completion, Request


@dataclass(slots=True)
class BackendOptions:
    """Options every backend factory accepts; each uses the ones that apply to it.

    Picklable on purpose: the Ray executor ships (spec, options) to actors that build their
    own backend.
    """

    base_url: str | None = None
    concurrency: int = 16  # openai: requests in flight (with adaptive_concurrency: the most ever)
    adaptive_concurrency: bool = False  # openai: --concurrency auto (AIMD, backends/concurrency.py)
    timeout: float = 120.0
    max_retries: int = 6
    api: str = "chat"  # openai: "chat" (chat/completions) or "completions" (base models)
    engine: str = "auto"  # embedded / hf: auto | transformers | ctranslate2 | llamacpp
    batch_size: int = 16
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    #: short kind name, e.g. "embedded", "hf", "openai", "scripted", "vllm"
    kind: str = "base"
    #: can return top_logprobs (needed by the judge's P(yes) scoring)
    supports_logprobs: bool = False
    #: preferred number of requests per generate() call (the executor batches by it)
    batch_size: int = 16
    #: schedules single requests itself: the executor calls ``start`` instead of ``generate``
    streaming: bool = False

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identity of the model for the cache: path + file hash, or a served model name."""

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """Return one Completion per Request, in the same order."""

    def window(self) -> int:
        """How many requests it should hold at once to be fully busy (streaming backends)."""
        return self.batch_size

    def start(self, items: Sequence[tuple[int, Request]], done: Callable[[int, Completion | BaseException], None]) -> None:
        """Streaming backends: begin answering ``(id, request)`` items; call ``done(id, result)``
        from any thread as each finishes. A BaseException result stops the whole run."""
        raise NotImplementedError(f"{type(self).__name__} does not stream")

    def cancel(self) -> None:  # noqa: B027 - optional hook
        """Streaming backends: drop every request started and not finished (no ``done`` calls)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release engines, sockets, threads."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
