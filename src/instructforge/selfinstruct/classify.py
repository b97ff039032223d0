"""Step 2 of Self-Instruct (paper section 2.2, "Classification Task Identification").

A few-shot prompt (the examples in data/classify_examples.jsonl, 12 yes / 19 no as in the
paper) asks whether each accepted instruction is a classification task with a finite label
set; temperature 0, at most 3 tokens, stopping at a newline or "Task" and read strictly, as
the paper's code does (GenerateConfig.classify_stop, classify_parse). pipeline.py asks as soon
as an instruction is accepted and writes the answer (``is_classification`` and the raw
``classify_answer``) into the candidate, so a resumed run skips what is already classified.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ..core.errors import InputError
from ..core.io import json_lines, read_text
from ..core.prompts import render
from ..models.types import Request, SamplingParams
from .common import make_request
from .config import GenerateConfig

EXAMPLES_FILE = Path(__file__).parent / "data" / "classify_examples.jsonl"


@cache
def load_examples(path: Path = EXAMPLES_FILE) -> tuple[tuple[str, bool], ...]:
    if not path.is_file():
        raise InputError(f"{path}: classification examples not found (packaged data missing)")
    out = []
    for n, d, err in json_lines(read_text(path)):
        try:
            if err is not None:
                raise err
            out.append((str(d["instruction"]), bool(d["is_classification"])))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError.at(path, n, f"bad classification example ({e})") from None
    return tuple(out)


def classify_prompt(instruction: str, examples: tuple[tuple[str, bool], ...] | None = None) -> str:
    examples = load_examples() if examples is None else examples
    shown = "\n\n".join(
        render(__package__, "classify_example", instruction=t, answer="Yes" if y else "No") for t, y in examples
    )
    return render(__package__, "classify", examples=shown, instruction=instruction.strip())


def parse_answer(text: str, mode: str = "strict") -> bool:
    """Is the answer yes? ``strict`` (the paper's code, identify_clf_or_not.py): only when the
    stripped answer is exactly "Yes", "yes" or "YES", so "Yes." or "Yes, it is" count as no.
    ``first_word``: when its first word is yes in any case, punctuation stripped.

    >>> parse_answer(" Yes"), parse_answer("Yes."), parse_answer("Yes.", "first_word")
    (True, False, True)
    """
    if mode == "strict":
        return text.strip() in ("Yes", "yes", "YES")
    words = text.strip().split()
    return bool(words) and words[0].strip(".,:;!\"'").lower() == "yes"


def classify_request(instruction: str, cfg: GenerateConfig) -> Request:
    # Temperature 0 with a newline/"Task" stop, as the paper's code sends it: the answer is the
    # rest of the "Is it classification?" line.
    params = SamplingParams(
        temperature=0.0, top_p=1.0, max_tokens=cfg.classify_max_tokens, stop=tuple(cfg.classify_stop)
    )
    return make_request(classify_prompt(instruction), params, cfg)
