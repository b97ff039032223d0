"""``instructforge ask``: one completion, the quickest check that a backend works."""

from __future__ import annotations

import click

from ..api.run import AskConfig, ModelConfig
from .common import print_llm_summary
from .settings import settings_command


@click.command()
@click.argument("prompt")
@settings_command("ask", cfg=AskConfig, model=ModelConfig)
def ask(prompt: str, cfg: AskConfig, model: ModelConfig) -> None:
    """Print one completion of PROMPT.

    Example: instructforge ask --model embedded "Give me three words that rhyme with cat."
    """
    llm = model.open()
    try:
        c = llm.complete(cfg.request(prompt))
    finally:
        llm.close()
    click.echo(c.text)
    print_llm_summary(llm)
