"""Alpaca's variant of Self-Instruct (Taori et al. 2023, "Stanford Alpaca", data generation).

One request shows 3 seed tasks as complete instruction/input/output triples and asks for 20;
temperature 1.0. The triples are parsed and go through the same instruction filters as
Self-Instruct (bootstrap.Pool) and the instance filters; there is no classification or
separate instance stage.
"""

from __future__ import annotations

import random
import re
from typing import Any

from ..core.prompts import render
from ..data.records import Task
from ..models.types import SamplingParams
from .bootstrap import clean_instruction
from .config import GenerateConfig

NO_INPUT = "<noinput>"
_TRIPLE = re.compile(
    r"^\s*\d+\s*\.\s*Instruction\s*:(?P<instruction>.*?)"
    r"^\s*\d+\s*\.\s*Input\s*:(?P<input>.*?)"
    r"^\s*\d+\s*\.\s*Output\s*:(?P<output>.*)$",
    re.S | re.M,
)


def render_alpaca_prompt(demos: list[Task], count: int) -> str:
    blocks = []
    for n, t in enumerate(demos, 1):
        inst = t.instances[0] if t.instances else None
        inp = inst.input.strip() if inst and inst.input.strip() else NO_INPUT
        out = inst.output.strip() if inst else ""
        blocks.append(render(__package__, "alpaca_demo", number=n, instruction=t.instruction, input=inp, output=out))
    blocks.append(render(__package__, "alpaca_next", number=len(demos) + 1))
    return render(__package__, "alpaca", count=count, demos="\n".join(blocks))


def parse_triples(text: str, next_number: int) -> list[dict[str, Any]]:
    """Split the answer on ``###`` and read each numbered Instruction/Input/Output block.
    A block without the three parts is kept with only its instruction text (it will be
    rejected as ``bad_format``)."""
    if not re.match(r"\s*\d+\s*\.\s*Instruction", text):
        text = f"{next_number}. Instruction: {text.lstrip()}"
    out: list[dict[str, Any]] = []
    for block in text.split("###"):
        if not block.strip():
            continue
        m = _TRIPLE.match(block)
        if m is None:
            first = re.sub(r"^\s*\d+\s*\.\s*Instruction\s*:", "", block.strip())
            out.append({"instruction": clean_instruction(first)[:500], "bad_format": True})
            continue
        inp = m["input"].strip()
        out.append(
            {
                "instruction": clean_instruction(m["instruction"]),
                "input": "" if inp.lower() in (NO_INPUT, "<no input>", "none") else inp,
                "output": m["output"].strip(),
            }
        )
    return out


class AlpacaPrompts:
    """Alpaca's bootstrap prompt: seed triples shown, more triples asked for (no machine
    instructions in context, as in Alpaca's code)."""

    key_prefix = "a"

    def __init__(self, cfg: GenerateConfig, seeds: list[Task]):
        self.cfg = cfg
        self.seeds = seeds
        self.params = SamplingParams(
            temperature=cfg.alpaca_temperature,
            top_p=cfg.alpaca_top_p,
            max_tokens=cfg.alpaca_max_tokens,
            stop=(f"\n{cfg.alpaca_tasks_per_request + 1}.", f"{cfg.alpaca_tasks_per_request + 1}. Instruction"),
        )

    def prompt(self, rng: random.Random, machine: list[str]) -> tuple[str, int]:
        demos = rng.sample(self.seeds, min(len(self.seeds), self.cfg.alpaca_num_demos))
        return render_alpaca_prompt(demos, self.cfg.alpaca_tasks_per_request), len(demos) + 1

    def parse(self, text: str, meta: int) -> list[dict[str, Any]]:
        return parse_triples(text, meta)
