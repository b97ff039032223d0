"""Which model a command calls and how to reach it: ``--model`` and its options.

One dataclass for every command that calls a model (and for the Python API); its fields are
the command-line flags (``instructforge ask --help``), each with its help, default and range.
API keys are never settings: they come from ``INSTRUCTFORGE_API_KEY`` / ``OPENAI_API_KEY``.

Accounting and caps (models/usage.py) are settings here too, so every model-using command has
them: ``--price IN,OUT`` (per million tokens; or ``prices``, a table keyed by model spec, in a
config file), ``--currency``, ``--max-total-tokens``, ``--budget`` and ``--usage-tokenizer``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..core.settings import option, validate
from .backends.engines import ENGINES
from .backends.registry import SPEC_FORMS

AUTO_MAX_CONCURRENCY = 1024
#: settings that change what is counted or where a run stops, never what a model answers (an
#: experiment's finished stage stays finished when they change)
ACCOUNTING = ("price", "prices", "currency", "max_total_tokens", "budget", "usage_tokenizer")


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
    dtype: str = option(
        "auto",
        "embedded/hf: the transformers engine's weights: auto (bfloat16 on a CPU with native "
        "bfloat16 arithmetic, AVX512-BF16 or AMX, else float32), float32 or bfloat16",
        choices=("auto", "float32", "bfloat16"),
        flag=True,
    )
    cache: bool = option(True, "Read and write the per-call cache (--no-cache: neither)", flag=True)
    executor: str = option("local", "Where model calls run", choices=("local", "ray"), flag=True)
    ray_address: str | None = option(None, "Ray cluster address (default: start a local one)", flag=True)
    ray_actors: int | None = option(None, "Ray actor-pool size (default: one per CPU/GPU)", min=1, flag=True)
    num_gpus: float = option(0.0, "Ray: GPUs per actor", min=0, flag=True)
    price: str | None = option(
        None,
        "Price per million tokens as IN,OUT (prompt, completion), e.g. 0.15,0.60: the ledger's cost "
        "of every model this command calls (default: the prices table, else no cost)",
        flag=True,
    )
    prices: dict[str, Any] = option(
        default_factory=dict,
        help="Price table keyed by model spec: {SPEC: IN,OUT} (per million tokens), e.g. in a config file "
        "model: {prices: {openai:gpt-4o-mini: 0.15,0.60}}",
    )
    currency: str = option("USD", "Currency of --price, --budget and the ledger's costs", flag=True)
    max_total_tokens: int | None = option(
        None,
        "Stop before the command's prompt + completion tokens (all its runs so far) would pass this; "
        "exit 3, rerun with a higher cap to continue",
        min=1,
        flag=True,
    )
    budget: float | None = option(
        None,
        "Stop before the command's cost (in --currency, all its runs so far) would pass this; needs a price; "
        "exit 3, rerun with a higher budget to continue",
        min=0,
        min_open=True,
        flag=True,
    )
    usage_tokenizer: str | None = option(
        None,
        "openai: count tokens with this tokenizer (embedded, or a local model dir) when the server reports "
        "no usage (default: the embedded model's)",
        flag=True,
    )
    vllm_eager: bool = option(
        False,
        "vllm:DIR: no torch.compile and no CUDA graphs (starts in a minute instead of compiling "
        "for many on a CPU; decodes slower)",
    )

    def __post_init__(self) -> None:
        validate(self)
        from .usage import parse_price

        if self.price is not None:
            parse_price(self.price)
        for spec, value in self.prices.items():
            parse_price(value, f"prices[{spec}]")
        if not self.currency.strip() or len(self.currency) > 12:
            from ..core.errors import InputError

            raise InputError(f"--currency {self.currency!r}: expected a currency name such as USD or EUR")

    def price_of(self, spec: str | None = None) -> Any:
        """The Price of model ``spec`` (default: this config's): ``--price``, else the table, else None."""
        from .usage import parse_price

        spec = spec or self.model
        if self.price is not None:
            return parse_price(self.price)
        if spec in self.prices:
            return parse_price(self.prices[spec], f"prices[{spec}]")
        return None

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
            dtype=self.dtype,
            extra={"enforce_eager": True} if self.vllm_eager else {},
            tokenizer=self.usage_tokenizer,
        )

    def open(self, **overrides: Any) -> Any:
        """The LLM client for these settings (``overrides``: fields to change, e.g. model=...)."""
        from .backends import parse_spec
        from .client import open_llm

        cfg = dataclasses.replace(self, **overrides) if overrides else self
        parse_spec(cfg.model)
        price = cfg.price_of()
        if cfg.budget is not None and price is None:
            from ..core.errors import InputError

            raise InputError(
                f"--budget {cfg.budget:g}: no price for {cfg.model}: give --price IN,OUT (per million tokens) "
                "or a prices table entry for it"
            )
        llm = open_llm(
            cfg.model,
            cfg.backend_options(),
            use_cache=cfg.cache,
            executor=cfg.executor,
            ray_address=cfg.ray_address,
            ray_actors=cfg.ray_actors,
            ray_num_gpus=cfg.num_gpus,
        )
        llm.price = price
        led = llm.ledger
        led.currency, led.max_total_tokens, led.budget = cfg.currency, cfg.max_total_tokens, cfg.budget
        return llm

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
