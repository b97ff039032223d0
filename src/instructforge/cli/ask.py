"""``instructforge ask``: one completion, the quickest check that a backend works."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ..api.run import ModelConfig, Request, SamplingParams
from ..core.settings import option, validate
from .common import print_llm_summary
from .settings import settings_command


@dataclass
class AskConfig:
    temperature: float = option(0.0, "Sampling temperature (0: greedy)", min=0, max=2, flag=True)
    top_p: float = option(1.0, "Nucleus sampling mass", min=0, max=1, flag=True)
    max_tokens: int = option(128, "New tokens at most", min=1, max=32768, flag=True)
    stop: list[str] = option(default_factory=list, help="Stop string", flag=True)
    seed: int = option(0, "Seed of a sampled answer", flag=True)
    system: str | None = option(None, "System message", flag=True)
    raw: bool = option(False, "Send PROMPT as a raw completion prompt (base models)", flag=True)

    def __post_init__(self) -> None:
        validate(self)

    def request(self, prompt: str) -> Request:
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, stop=tuple(self.stop)
        )
        if self.raw:
            return Request.raw(prompt, params=params, seed=self.seed)
        return Request.chat(prompt, system=self.system, params=params, seed=self.seed)


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
