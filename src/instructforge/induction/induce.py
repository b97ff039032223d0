"""Instruction induction: demonstrations in, a natural-language instruction out
(Honovich et al. 2023, section 3: the induction prompt, greedy decoding, max 50 tokens, and the
post-processing of the generated instruction).

Also reads a user's demonstrations (JSONL of ``{input, output}`` or a benchmark task file) with
one-line errors that name the file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import InputError
from ..jsonl import iter_jsonl
from ..llm import LLM
from ..records import Request, SamplingParams
from ..steps import Steps, run_steps

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@dataclass
class InduceConfig:
    """Parameters of the induction call. Defaults are the paper's."""

    k: int = 5  # demonstrations per induction prompt (paper: 5)
    max_tokens: int = 50  # induction generation length (paper: 50)
    temperature: float = 0.0  # greedy (paper: top_p=0, i.e. greedy)
    prompt_format: str = "raw"  # "raw": a completion prompt as in the paper; "chat": a user message
    seed: int = 0  # request seed (matters only when sampling)


@cache
def prompt_template(name: str) -> str:
    return resources.files(__package__).joinpath("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def render_induce_prompt(demos: list[tuple[str, str]]) -> str:
    blocks = "\n\n".join(prompt_template("demo").format(input=i, output=o) for i, o in demos)
    n = NUMBER_WORDS[len(demos)] if len(demos) < len(NUMBER_WORDS) else str(len(demos))
    return prompt_template("induce").format(n=n, demos=blocks)


def make_request(text: str, params: SamplingParams, prompt_format: str, seed: int = 0, sample_index: int = 0) -> Request:
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
            text = text[len(prefix):].strip()
    if re.match(r"to\b", text):
        text = text[2:].strip()
    text = text.strip().split("\n")[0]
    quoted = _QUOTED.findall(text)
    if quoted and len(quoted[0].split()) > 3:
        text = quoted[0]
    return text.replace('"', "").strip()


def induce_steps(demo_sets: list[list[tuple[str, str]]], cfg: InduceConfig | None = None,
                 sample_indices: list[int] | None = None) -> Steps[list[str]]:
    """One post-processed instruction per demonstration set (one step: see execute.run_steps)."""
    cfg = cfg or InduceConfig()
    params = SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens)
    idx = sample_indices or [0] * len(demo_sets)
    comps = yield [make_request(render_induce_prompt(d), params, cfg.prompt_format, cfg.seed, i)
                   for d, i in zip(demo_sets, idx, strict=True)]
    return [postprocess(c.text) for c in comps]


def induce(llm: LLM, demo_sets: list[list[tuple[str, str]]], cfg: InduceConfig | None = None,
           *, sample_indices: list[int] | None = None, desc: str = "inducing") -> list[str]:
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
