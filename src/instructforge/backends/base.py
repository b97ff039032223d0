"""The backend interface: one method, ``generate(batch) -> completions``.

A backend turns a batch of Requests into Completions, in order. Concurrency, retries,
timeouts and batching live inside the backend; stages never see them. Capabilities are class
flags, so a stage can ask (e.g. ``supports_logprobs``) instead of guessing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
    concurrency: int = 16
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

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identity of the model for the cache: path + file hash, or a served model name."""

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """Return one Completion per Request, in the same order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release engines, sockets, threads."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
