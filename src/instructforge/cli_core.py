"""``instructforge ask``: one completion, the quickest check that a backend works."""

from __future__ import annotations

from typing import Any

import click

from .cli_common import llm_from_options, model_options, pop_model_kwargs, print_llm_summary
from .records import Request, SamplingParams


@click.command()
@click.argument("prompt")
@model_options
@click.option("--temperature", default=0.0, show_default=True, type=float)
@click.option("--top-p", default=1.0, show_default=True, type=float)
@click.option("--max-tokens", default=128, show_default=True, type=click.IntRange(1, 32768))
@click.option("--stop", multiple=True, help="Stop string (repeatable).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--system", default=None, help="System message.")
@click.option("--raw", is_flag=True, help="Send PROMPT as a raw completion prompt (base models).")
def ask(prompt: str, temperature: float, top_p: float, max_tokens: int, stop: tuple[str, ...],
        seed: int, system: str | None, raw: bool, **kwargs: Any) -> None:
    """Print one completion of PROMPT.

    Example: instructforge ask --model embedded "Give me three words that rhyme with cat."
    """
    m = pop_model_kwargs(kwargs)
    params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop)
    req = Request.raw(prompt, params=params, seed=seed) if raw else Request.chat(prompt, system=system, params=params, seed=seed)
    llm = llm_from_options(m)
    try:
        c = llm.complete(req)
    finally:
        llm.close()
    click.echo(c.text)
    print_llm_summary(llm)
