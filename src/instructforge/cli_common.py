"""Options shared by every command that calls a model, and the helpers that use them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from . import ui
from .backends import BackendOptions, parse_spec
from .llm import LLM, Stats, open_llm


class Concurrency(click.ParamType):
    """``--concurrency``: a number of requests in flight (1-4096) or ``auto``."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) or str(value).strip().lower() == "auto":
            return value if isinstance(value, int) else "auto"
        try:
            n = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'auto'", param, ctx)
        if not 1 <= n <= 4096:
            self.fail(f"{n} is not in the range 1-4096", param, ctx)
        return n


def model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--model, --base-url, --api, --concurrency, --timeout, --engine, --batch-size,
    --no-cache, --executor, --ray-address, --ray-actors, --num-gpus."""
    opts = [
        click.option("--model", "model", default="embedded", show_default=True,
                     help="embedded | hf:DIR | openai:MODEL | vllm:DIR | scripted:FILE"),
        click.option("--base-url", default=None, envvar="OPENAI_BASE_URL",
                     help="OpenAI-compatible server (vLLM serve, Ollama, llama.cpp server, OpenAI)."),
        click.option("--api", type=click.Choice(["chat", "completions"]), default="chat", show_default=True,
                     help="openai: chat/completions, or completions for base models."),
        click.option("--concurrency", default="16", show_default=True, type=Concurrency(),
                     help="openai: requests in flight, or 'auto' (grow while throughput rises, back off on "
                          "429/503 or rising latency; at most 1024)."),
        click.option("--timeout", default=120.0, show_default=True, type=float, help="openai: seconds per request."),
        click.option("--max-retries", default=6, show_default=True, type=click.IntRange(0, 100),
                     help="openai: retries of a request on 429/5xx/timeouts before the run stops."),
        click.option("--engine", default="auto", show_default=True,
                     help="embedded/hf: auto | transformers | ctranslate2 | llamacpp."),
        click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1, 1024),
                     help="Requests per backend batch."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the per-call cache."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True),
        click.option("--ray-address", default=None, help="Ray cluster address (default: start a local one)."),
        click.option("--ray-actors", default=None, type=int, help="Ray actor-pool size (default: one per CPU/GPU)."),
        click.option("--num-gpus", default=0.0, type=float, show_default=True, help="Ray: GPUs per actor."),
    ]
    for o in reversed(opts):
        func = o(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        parse_spec(kwargs["model"])  # fail fast, one line, exit 2
        return func(*args, **kwargs)

    return wrapper


AUTO_MAX_CONCURRENCY = 1024
MODEL_KEYS = ("model", "base_url", "api", "concurrency", "timeout", "max_retries", "engine", "batch_size",
              "no_cache", "executor", "ray_address", "ray_actors", "num_gpus")


def pop_model_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs.pop(k) for k in MODEL_KEYS if k in kwargs}


def llm_from_options(m: dict[str, Any], *, spec: str | None = None) -> LLM:
    conc = m.get("concurrency", 16)
    opts = BackendOptions(
        base_url=m.get("base_url"),
        concurrency=AUTO_MAX_CONCURRENCY if conc == "auto" else int(conc),
        adaptive_concurrency=conc == "auto",
        timeout=m.get("timeout", 120.0),
        max_retries=m.get("max_retries", 6),
        api=m.get("api", "chat"),
        engine=m.get("engine", "auto"),
        batch_size=m.get("batch_size", 16),
    )
    return open_llm(
        spec or m.get("model", "embedded"),
        opts,
        use_cache=not m.get("no_cache", False),
        executor=m.get("executor", "local"),
        ray_address=m.get("ray_address"),
        ray_actors=m.get("ray_actors"),
        ray_num_gpus=m.get("num_gpus", 0.0),
    )


def public_model_config(m: dict[str, Any]) -> dict[str, Any]:
    """The model options as they go into config.yaml: no secrets (keys live in env vars only)."""
    return {k: v for k, v in m.items() if "key" not in k.lower()}


def print_llm_summary(llm: LLM | Stats, title: str = "model calls") -> None:
    s = llm if isinstance(llm, Stats) else llm.stats
    ui.show(ui.table(title, ["requests", "cache hits", "cache misses", "prompt tok", "completion tok", "tok/s"],
                     [[s.requests, s.cache_hits, s.cache_misses, s.prompt_tokens, s.completion_tokens,
                       s.as_dict()["tokens_per_second"] or "-"]]))
    if not ui.is_quiet():
        ui.console.print(f"cache: {s.cache_hits} hits, {s.cache_misses} misses", highlight=False)



