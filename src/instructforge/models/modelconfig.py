"""Which model a command calls and how to reach it: ``--model`` and its options.

One dataclass for every command that calls a model (and for the Python API); its fields are
the command-line flags (``instructforge ask --help``), each with its help, default and range.
API keys are never settings: they come from ``INSTRUCTFORGE_API_KEY`` / ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..core.settings import option, validate
from .backends.engines import ENGINES
from .backends.registry import SPEC_FORMS

AUTO_MAX_CONCURRENCY = 1024


@dataclass
class ModelConfig:
    model: str = option("embedded", SPEC_FORMS, flag=True)
    base_url: str | None = option(
        None,
        "OpenAI-compatible server (vLLM serve, Ollama, llama.cpp server, OpenAI); default: $OPENAI_BASE_URL",
        flag=True,
    )
    api: str = option(
        "chat", "openai: chat/completions, or completions for base models", choices=("chat", "completions"), flag=True
    )
    concurrency: int | Literal["auto"] = option(
        16,
        "openai: requests in flight, or auto (grow while throughput rises, back off on 429/503 or "
        "rising latency; at most 1024)",
        min=1,
        max=4096,
        flag=True,
    )
    timeout: float = option(120.0, "openai: seconds per request", min=0, min_open=True, flag=True)
    max_retries: int = option(
        6, "openai: retries of a request on 429/5xx/timeouts before the run stops", min=0, max=100, flag=True
    )
    engine: str = option("auto", "embedded/hf: the CPU engine", choices=("auto", *(e.name for e in ENGINES)), flag=True)
    batch_size: int = option(16, "Requests per engine batch (local engines; Ray chunks)", min=1, max=1024, flag=True)
    cache: bool = option(True, "Read and write the per-call cache (--no-cache: neither)", flag=True)
    executor: str = option("local", "Where model calls run", choices=("local", "ray"), flag=True)
    ray_address: str | None = option(None, "Ray cluster address (default: start a local one)", flag=True)
    ray_actors: int | None = option(None, "Ray actor-pool size (default: one per CPU/GPU)", min=1, flag=True)
    num_gpus: float = option(0.0, "Ray: GPUs per actor", min=0, flag=True)
    vllm_eager: bool = option(
        False,
        "vllm:DIR: no torch.compile and no CUDA graphs (starts in a minute instead of compiling "
        "for many on a CPU; decodes slower)",
    )

    def __post_init__(self) -> None:
        validate(self)

    def backend_options(self) -> Any:
        from .backends import BackendOptions

        auto = self.concurrency == "auto"
        return BackendOptions(
            base_url=self.base_url,
            concurrency=AUTO_MAX_CONCURRENCY if auto else int(self.concurrency),
            adaptive_concurrency=auto,
            timeout=self.timeout,
            max_retries=self.max_retries,
            api=self.api,
            engine=self.engine,
            batch_size=self.batch_size,
            extra={"enforce_eager": True} if self.vllm_eager else {},
        )

    def open(self, **overrides: Any) -> Any:
        """The LLM client for these settings (``overrides``: fields to change, e.g. model=...)."""
        from .backends import parse_spec
        from .client import open_llm

        cfg = dataclasses.replace(self, **overrides) if overrides else self
        parse_spec(cfg.model)
        return open_llm(
            cfg.model,
            cfg.backend_options(),
            use_cache=cfg.cache,
            executor=cfg.executor,
            ray_address=cfg.ray_address,
            ray_actors=cfg.ray_actors,
            ray_num_gpus=cfg.num_gpus,
        )

    def public(self) -> dict[str, Any]:
        """As written to config.yaml (there are no secrets in it: keys live in the environment)."""
        return dataclasses.asdict(self)


@dataclass
class ExecutorModelConfig:
    """A second model for the calls that *execute* instructions (``induction evaluate``): the
    paper executes every induced and gold instruction with one fixed model. ``model`` null: the
    command's own model executes too. Options left null are the command model's."""

    model: str | None = option(None, "The fixed execution model (null: the --model itself)", flag="--executor-model")
    base_url: str | None = option(None, "Its OpenAI-compatible server (null: --base-url)", flag="--executor-base-url")
    api: Literal["chat", "completions"] | None = option(
        None, "Its openai endpoint (null: --api)", flag="--executor-api"
    )
    engine: str | None = option(None, "Its CPU engine (null: --engine)", flag="--executor-engine")
    batch_size: int | None = option(None, "Its engine batch (null: --batch-size)", min=1, max=1024)
    concurrency: int | None = option(None, "Its openai requests in flight (null: --concurrency)", min=1, max=4096)

    def __post_init__(self) -> None:
        validate(self)
        names = ("auto", *(e.name for e in ENGINES))
        if self.engine is not None and self.engine not in names:
            from ..core.errors import InputError

            raise InputError(f"executor_model.engine: {self.engine!r} is not one of {', '.join(names)}")

    def resolve(self, main: ModelConfig) -> ModelConfig | None:
        """The execution model's full settings (the rest from ``main``); None: ``main`` executes."""
        if self.model is None:
            return None
        changes: dict[str, Any] = {"model": self.model}
        for name in ("base_url", "api", "engine", "batch_size", "concurrency"):
            v = getattr(self, name)
            if v is not None:
                changes[name] = v
        return dataclasses.replace(main, **changes)
