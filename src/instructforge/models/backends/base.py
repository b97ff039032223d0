"""The backend interface: one method, ``generate(batch) -> completions``.

A backend turns a batch of Requests into Completions, in order. Concurrency, retries,
timeouts and batching live inside the backend; stages never see them. Capabilities are class
flags, so a stage can ask (e.g. ``supports_logprobs``) instead of guessing.

A backend that schedules requests itself (an async HTTP client, an engine with continuous
batching) also sets ``streaming`` and implements ``start``: the executor then hands it each
request as soon as there is room (``window()``) instead of waiting for whole batches.

A registered backend (backends/registry.py) also gives ``identity(arg, options)``, its cache
identity without loading weights, and ``from_spec(arg, options)``. The local backends' own
interface, ``Engine`` (prompt texts in, completions out), is here too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ...core.errors import BackendError
from ..types import Completion, Request


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
    #: embedded / hf: the transformers engine's weights (auto | float32 | bfloat16; model_files.resolve_dtype)
    dtype: str = "auto"
    #: embedded / hf: CPU threads of the engine; None = $INSTRUCTFORGE_THREADS, else every core
    #: (model_files.resolve_threads). The Ray executor gives each actor its slice here.
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: openai: the tokenizer (embedded or a model dir) that counts tokens when the server reports
    #: no usage; None: the embedded model's
    tokenizer: str | None = None


class Backend(ABC):
    """A model behind ``--model SPEC``: the registry (backends/registry.py) builds it with
    ``from_spec`` and asks ``identity`` for the cache key without building it."""

    #: short kind name, e.g. "embedded", "hf", "openai", "scripted", "vllm"
    kind: str = "base"
    #: can return top_logprobs (needed by the judge's P(yes) scoring)
    supports_logprobs: bool = False
    #: preferred number of requests per generate() call (the executor batches by it)
    batch_size: int = 16
    #: schedules single requests itself: the executor calls ``start`` instead of ``generate``
    streaming: bool = False

    @classmethod
    def identity(cls, arg: str | None, options: BackendOptions) -> str:
        """The model identity for the cache of the spec argument ``arg`` (None for a spec
        without one), computed without loading weights; equal to the built backend's
        ``model_id``."""
        raise NotImplementedError(f"{cls.__name__} is not a registered backend")

    @classmethod
    def from_spec(cls, arg: str | None, options: BackendOptions) -> Backend:
        """Build the backend for the spec argument ``arg`` (the registry calls this). By default
        a registered class's constructor takes ``(arg, options)``; a class whose constructor
        differs overrides this."""
        build = cast(Callable[[str | None, BackendOptions], Backend], cls)
        return build(arg, options)

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

    def start(
        self, items: Sequence[tuple[int, Request]], done: Callable[[int, Completion | BaseException], None]
    ) -> None:
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


class Engine:
    """What a local backend (backends/local.py) generates with: rendered prompt texts and their
    Requests in, one Completion per text out. ``requires``: the module that must be installed
    (checked without importing it, backends/engines.py)."""

    name = "base"
    requires = ""
    tokenizer: Any

    def __init__(self, model_dir: Path, options: BackendOptions | None = None) -> None:
        """Load the model in ``model_dir``; CPU threads: ``options.threads``."""

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        raise NotImplementedError

    def score(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        """Per pair, the log-probability of each token of the continuation given the prompt
        (prompt and continuation tokenized apart, then joined: the tokens scored are exactly the
        continuation's own tokens on every engine)."""
        raise BackendError(
            f"the {self.name} engine cannot score text (likelihood); use --engine transformers or ctranslate2"
        )
