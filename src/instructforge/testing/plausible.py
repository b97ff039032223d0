"""Plausible answers to instructforge's own prompts, for the simulated server of the scale
benchmark (benchmarks/generate_scale.py) and the fault tests: a model that behaves like a
reasonable instruction follower without any weights.

- a bootstrap prompt gets a continuation of the numbered list: 4-7 new instructions built
  from the seed tasks' vocabulary (so most pass the ROUGE-L novelty filter), with an
  occasional one the filters reject (too short, blacklisted word, a copy of a listed task);
- a classification question gets " Yes" for about one task in five, else " No";
- an instance prompt gets 2-4 examples (input-first) or 2-3 class labels with inputs
  (output-first).

Every answer is a function of the prompt text and a seed, so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from functools import cache
from typing import Any

VERBS = (
    "Explain",
    "Describe",
    "Summarize",
    "List",
    "Compare",
    "Suggest",
    "Rewrite",
    "Translate",
    "Classify",
    "Outline",
    "Evaluate",
    "Plan",
    "Name",
    "Recommend",
    "Estimate",
    "Predict",
)
NOUNS = (
    "river",
    "budget",
    "poem",
    "engine",
    "garden",
    "recipe",
    "contract",
    "planet",
    "melody",
    "bridge",
    "letter",
    "market",
    "vaccine",
    "castle",
    "protocol",
    "harvest",
    "glacier",
    "ticket",
    "museum",
    "orbit",
)
ADJS = ("ancient", "modern", "tiny", "urban", "quiet", "digital", "rural", "fragile", "public", "seasonal")


def _rng(text: str, seed: int) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}\x00{text}".encode()).digest())


@cache
def vocabulary() -> tuple[str, ...]:
    """Lower-case words of four letters or more from the packaged seed tasks (about a thousand)."""
    from ..selfinstruct.seeds import PACKAGED_SEEDS

    text = PACKAGED_SEEDS.read_text(encoding="utf-8").lower().replace("\\n", " ")
    words = set(re.findall(r"\b[a-z]{4,}\b", text))
    return tuple(
        sorted(
            words
            - {
                "instruction",
                "instances",
                "input",
                "output",
                "is_classification",
                "classification",
                "true",
                "false",
                "name",
                "seed",
                "task",
            }
        )
    )


def instruction(rng: random.Random) -> str:
    """A new task: a verb and 6-11 words drawn from the vocabulary, so two of them rarely share
    enough words in order to fail the ROUGE-L novelty filter."""
    words = rng.sample(vocabulary(), rng.randint(6, 11))
    return f"{rng.choice(VERBS)} {' '.join(words)}."


def bootstrap_answer(prompt: str, rng: random.Random, fault_rate: float = 0.0) -> str:
    listed = re.findall(r"^\d+\. (.+)$", prompt, re.M)
    nxt = int(m.group(1)) if (m := re.search(r"^(\d+)\.\s*$", prompt, re.M)) else len(listed) + 1
    items = []
    for _ in range(rng.randint(4, 7)):
        r = rng.random()
        if r < 0.06:
            items.append("Be nice.")  # too short
        elif r < 0.12:
            items.append(f"Draw a map of the {rng.choice(NOUNS)}.")  # blacklisted
        elif r < 0.16 and listed:
            items.append(rng.choice(listed))  # a copy: too similar
        else:
            items.append(instruction(rng))
        if rng.random() < fault_rate:  # the server will refuse, or garble, every request about this task
            items[-1] += rng.choice([" [[400:999]]", " [[garbage:999]]"])
    lines = [items[0]] + [f"{nxt + i}. {t}" for i, t in enumerate(items[1:], 1) if nxt + i < 16]
    return "\n".join(lines)


def instance_answer(classification: bool, rng: random.Random) -> str:
    if classification:
        labels = rng.sample(["Positive", "Negative", "Neutral", "Yes", "No", "Other"], rng.randint(2, 3))
        return "\n".join(
            f"Class label: {lab}\nInput: a {rng.choice(ADJS)} {rng.choice(NOUNS)} that is {lab.lower()}"
            for lab in labels
        )
    out = []
    for k in range(1, rng.randint(2, 4) + 1):
        noun = rng.choice(NOUNS)
        out.append(
            f"Example {k}\nInput: the {rng.choice(ADJS)} {noun}\nOutput: A short answer about the {noun}, "
            f"number {rng.randint(1, 999)}."
        )
    return "\n".join(out)


def answer(prompt: str, seed: int = 0, fault_rate: float = 0.0) -> str:
    """The simulated model's answer to one of instructforge's prompts (or a short echo).
    ``fault_rate``: the share of new instructions carrying a fake_openai fault directive."""
    rng = _rng(prompt, seed)
    if "Continue the list" in prompt:
        return bootstrap_answer(prompt, rng, fault_rate)
    if prompt.rstrip().endswith("Is it classification?"):
        return " Yes" if rng.random() < 0.2 else " No"
    if "Each task below is a classification task" in prompt:
        return instance_answer(True, rng)
    if "Write examples for each of the tasks below" in prompt:
        return instance_answer(False, rng)
    return f"A plausible answer ({len(prompt.split())} words asked)."


def responder(fault_rate: float = 0.0) -> Callable[[str, dict[str, Any]], str]:
    """FakeOpenAIServer's ``responder`` hook: the answer depends on the prompt and the request's seed."""
    return lambda text, body: answer(text, int(body.get("seed") or 0), fault_rate)
