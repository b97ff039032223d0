"""Instruction induction: demonstrations in, a natural-language instruction out
(Honovich et al. 2023, section 3: the induction prompt, greedy decoding, max 50 tokens, and the
post-processing of the generated instruction).

Also reads a user's demonstrations (JSONL of ``{input, output}`` or a benchmark task file) with
one-line errors that name the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.errors import InputError
from ..core.io import iter_jsonl
from ..core.prompts import render
from ..core.settings import option, validate
from ..models.client import LLM, Stats
from ..models.steps import Steps, run_steps
from ..models.types import Request, SamplingParams

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@dataclass
class InduceConfig:
    """Settings of the induction call (``instructforge config show induce``); defaults are the paper's."""

    k: int = option(5, "Demonstrations per induction prompt (paper: 5)", min=1, max=64, flag="--k")
    max_tokens: int = option(50, "Induction length in new tokens (paper: 50)", min=1, max=4096, flag="--max-tokens")
    temperature: float = option(0.0, "Induction sampling temperature (paper: greedy)", min=0, max=2)
    prompt_format: Literal["raw", "chat"] = option(
        "raw",
        "raw: a completion prompt (paper); chat: one user message",
        choices=("raw", "chat"),
        flag="--prompt-format",
    )
    seed: int = option(0, "Seed of the requests and of every random draw of demonstrations", flag="--seed")

    def __post_init__(self) -> None:
        validate(self)


def render_induce_prompt(demos: list[tuple[str, str]]) -> str:
    blocks = "\n\n".join(render(__package__, "demo", input=i, output=o) for i, o in demos)
    n = NUMBER_WORDS[len(demos)] if len(demos) < len(NUMBER_WORDS) else str(len(demos))
    return render(__package__, "induce", n=n, demos=blocks)


def make_request(
    text: str, params: SamplingParams, prompt_format: str, seed: int = 0, sample_index: int = 0
) -> Request:
    if prompt_format == "chat":
        return Request.chat(text, params=params, seed=seed, sample_index=sample_index)
    return Request.raw(text, params=params, seed=seed, sample_index=sample_index)


_PREFIXES = ("probably:", "most likely:", "probably", "most likely")
_QUOTED = re.compile(r"\"([a-zA-Z.,'\\/]+ [a-zA-Z .,'\\/]+)\"")


def postprocess(text: str) -> str:
    """The paper's clean-up of a generated instruction.

    Drop one leading ":", strip hedges ("probably", "most likely", with or without a colon) and
    a leading "to", keep the first line; if the line holds a quoted span of more than three
    words, that span is the instruction; drop double quotes.
    Deviation: "to" is removed only as a whole word (the paper's prefix test also cut the "to"
    of words like "total").

    >>> postprocess(':  probably to translate the word into French.\\nMore text')
    'translate the word into French.'
    >>> postprocess(' "Write the plural form of the word" is it.')
    'Write the plural form of the word'
    """
    if text.startswith(":"):
        text = text[1:]
    text = text.strip()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    if re.match(r"to\b", text):
        text = text[2:].strip()
    text = text.strip().split("\n")[0]
    quoted = _QUOTED.findall(text)
    if quoted and len(quoted[0].split()) > 3:
        text = quoted[0]
    return text.replace('"', "").strip()


def induce_steps(
    demo_sets: list[list[tuple[str, str]]],
    cfg: InduceConfig | None = None,
    sample_indices: list[int] | None = None,
    top_p: float = 1.0,
) -> Steps[list[str]]:
    """One post-processed instruction per demonstration set (one step: see execute.run_steps);
    ``top_p``: the search's nucleus sampling (the paper's greedy induction has none)."""
    cfg = cfg or InduceConfig()
    params = SamplingParams(temperature=cfg.temperature, top_p=top_p, max_tokens=cfg.max_tokens)
    idx = sample_indices or [0] * len(demo_sets)
    comps = yield [
        make_request(render_induce_prompt(d), params, cfg.prompt_format, cfg.seed, i)
        for d, i in zip(demo_sets, idx, strict=True)
    ]
    return [postprocess(c.text) for c in comps]


def induce(
    llm: LLM,
    demo_sets: list[list[tuple[str, str]]],
    cfg: InduceConfig | None = None,
    *,
    sample_indices: list[int] | None = None,
    desc: str = "inducing",
) -> list[str]:
    """One post-processed instruction per demonstration set (one batched model call)."""
    texts: list[str] = run_steps(llm, [induce_steps(demo_sets, cfg, sample_indices)], desc)[0]
    return texts


def read_demos(path: Path) -> list[tuple[str, str]]:
    """Demonstrations from JSONL ``{input, output}`` lines, or from a benchmark task file
    (``{"examples": {...}}``; its fields mapped through the task table by the file's name)."""
    path = Path(path)
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and '"examples"' in stripped[:200]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("examples"), dict):
            from .benchmark import fill, task_spec

            spec = task_spec(path.stem)
            out = []
            for key, ex in data["examples"].items():
                try:
                    out.append((fill(spec.demo_input[0], ex), fill(spec.demo_output, ex)))
                except KeyError as e:
                    raise InputError.at(path, None, f"example {key}: missing field {e}") from None
            return out
    demos = []
    for n, row in iter_jsonl(path, text):
        if not isinstance(row, dict):
            raise InputError.at(path, n, "expected a JSON object with input and output")
        for key in ("input", "output"):
            if not isinstance(row.get(key), str | int | float) or str(row[key]).strip() == "":
                raise InputError.at(path, n, f'missing "{key}"')
        demos.append((str(row["input"]), str(row["output"])))
    return demos


def check_enough(path: Path, demos: list[tuple[str, str]], k: int) -> None:
    if len(demos) < k:
        raise InputError.at(path, max(len(demos), 1), f"{len(demos)} demonstrations, fewer than k={k}")


Demos = str | Path | Sequence[tuple[str, str]]


def check_demos(demos: Demos, k: int) -> list[tuple[str, str]]:
    """The (input, output) pairs of ``demos`` (a file, or pairs), at least ``k`` of them."""
    if isinstance(demos, str | Path):
        pairs = read_demos(Path(demos))
        check_enough(Path(demos), pairs, k)
        return pairs
    pairs = []
    for n, d in enumerate(demos):
        if not (isinstance(d, tuple | list) and len(d) == 2 and all(isinstance(x, str) for x in d)):
            raise InputError(f"demos[{n}]: expected an (input, output) pair of strings, got {d!r}")
        pairs.append((d[0], d[1]))
    if len(pairs) < k:
        raise InputError(f"demos: {len(pairs)} demonstrations, fewer than k={k}")
    return pairs


def read_candidates(path: str | Path) -> list[str]:
    """Instructions to score, one a line (blank lines skipped); InputError when there is none."""
    path = Path(path)
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    out = [ln for ln in lines if ln]
    if not out:
        raise InputError.at(path, 1, "no instructions (one instruction a line)")
    return out


@dataclass
class Induction:
    """What ``induce`` found: the instruction and, when the search ran, its score (held-out
    execution accuracy, or mean log-probability per gold token with ``score="likelihood"``), how
    many held-out demonstrations that is on, every candidate (``search.py`` table) and the
    model calls the search sent."""

    instruction: str
    score: float | None = None
    n_eval: int | None = None
    candidates: list[dict[str, Any]] | None = None
    note: str | None = None  # why a search that was asked for did not run
    stats: Stats | None = field(default=None, repr=False)  # the model calls it made
    calls: int = 1
    score_kind: str | None = None  # "execution" | "likelihood" after a search
    method: str | None = None  # "halving" | "ucb" after a search

    @property
    def accuracy(self) -> float | None:
        """The held-out execution accuracy (None unless the search scored by execution)."""
        return self.score if self.score_kind == "execution" else None

    def as_dict(self) -> dict[str, Any]:
        """``instructforge induce --json``: ``{instruction, score, score_kind, method, evaluated,
        candidates: [{text, score, evaluated, source, rounds, chosen}], calls}``; without a
        search the one greedy instruction is the only candidate (score null, evaluated 0)."""
        cands = self.candidates
        if cands is None:
            cands = [{"text": self.instruction, "score": None, "evaluated": 0, "source": "greedy", "chosen": True}]
        return {
            "instruction": self.instruction,
            "score": self.score,
            "score_kind": self.score_kind,
            "method": self.method,
            "evaluated": self.n_eval or 0,
            "candidates": cands,
            "calls": self.calls,
        }
