"""User-oriented instruction evaluation (Self-Instruct, Wang et al. 2023, section 5.3).

The model answers the 252 user-oriented instructions (instruction + instance input, greedy);
a judge model then rates every answer on the paper's four-level scale:

- A: valid and satisfying response;
- B: acceptable response with minor errors or imperfections;
- C: relevant response that responds to the instruction but has significant errors;
- D: irrelevant or completely invalid response.

In the paper the ratings come from human experts; here a judge model substitutes for them.
The judge's letter is read from P(A..D) of its first generated token when the backend returns
top logprobs, else parsed from its text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import iter_jsonl
from ..core.prompts import render
from ..core.settings import option, validate
from ..models.backends.registry import SPEC_FORMS
from ..models.modelconfig import ModelConfig
from ..models.types import Completion, Request, SamplingParams
from ..models.usage import track

LETTERS = ("A", "B", "C", "D")


@dataclass
class UserOrientedConfig:
    """Every setting of ``instructforge evaluate user-oriented``, the judge model included
    (``instructforge config show evaluate user-oriented``)."""

    judge: str | None = option(
        None, f"Judge model spec ({SPEC_FORMS}); required. It stands in for the paper's human raters", flag=True
    )
    judge_base_url: str | None = option(None, "OpenAI-compatible server of the judge (default: --base-url)", flag=True)
    max_tokens: int = option(
        512,
        "Max new tokens per answer (the paper gives none; 512 leaves room for e-mails, lists and code)",
        min=1,
        flag=True,
    )
    temperature: float = option(0.0, "Answer sampling temperature (0: greedy, as for SuperNI)", min=0, max=2)
    max_instructions: int | None = option(None, "Only the first N instructions (default: all 252)", min=1, flag=True)
    judge_method: str = option(
        "auto",
        "auto: P(A..D) from the judge's first-token top logprobs when its backend "
        "returns them, else the letter parsed from its text; logprobs / text: only that",
        choices=("auto", "logprobs", "text"),
        flag=True,
    )
    judge_logprobs: int = option(20, "Top alternatives requested for the judge's first token", min=1)
    judge_max_tokens: int = option(32, "Tokens the judge may write when its letter is parsed from text", min=1)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(slots=True)
class UserItem:
    id: str
    instruction: str
    input: str
    reference: str


def load_items(path: Path, max_instructions: int | None = None) -> list[UserItem]:
    """Read user_oriented_instructions.jsonl (id, instruction, instances[{input, output}])."""
    items = []
    for n, d in iter_jsonl(path):
        if not isinstance(d, dict) or not isinstance(d.get("instruction"), str) or not d["instruction"].strip():
            raise InputError.at(path, n, 'needs a non-empty "instruction"')
        insts = d.get("instances") or [{}]
        if not isinstance(insts, list) or not isinstance(insts[0], dict):
            raise InputError.at(path, n, '"instances" must be a list of {input, output}')
        # One answer per instruction, on its first instance (the file has one instance each).
        items.append(
            UserItem(
                str(d.get("id", f"line{n}")),
                d["instruction"].strip(),
                str(insts[0].get("input") or "").strip(),
                str(insts[0].get("output") or ""),
            )
        )
    if not items:
        raise InputError.at(path, None, "no instructions")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError.at(path, None, f"duplicate id {dup}")
    return items[:max_instructions] if max_instructions else items


def render_request(item: UserItem) -> str:
    if item.input:
        return render(__package__, "user_oriented_answer", instruction=item.instruction, input=item.input)
    return render(__package__, "user_oriented_answer_no_input", instruction=item.instruction)


def render_judge(item: UserItem, response: str) -> str:
    return render(
        __package__, "user_oriented_judge", request=render_request(item), response=response.strip() or "(empty)"
    )


# ---------------------------------------------------------------- reading the judge

_LABELLED = re.compile(r"(?i:rating|grade|answer|score|letter)\s*(?:is)?\s*[:=\-]?\s*[\(\[\*\"']*([ABCD])(?![A-Za-z])")
# A lone capital letter at the start; "A good answer" (article) does not count.
_LEADING = re.compile(r"^[\s\(\[\*\"'#]*([ABCD])(?![A-Za-z])(?!\s+[a-z])")
_ANYWHERE = re.compile(r"(?<![A-Za-z])([BCD])(?![A-Za-z])|(?<![A-Za-z])(A)(?=[\s]*[\):.\-\]\*]|$)")


def letter_from_text(text: str) -> str | None:
    """The rating letter in a judge's text, or None.

    >>> [letter_from_text(t) for t in ["B", " (C) has errors", "Answer is: **B**", "A good reply", "**D**"]]
    ['B', 'C', 'B', None, 'D']
    """
    m = _LABELLED.search(text) or _LEADING.search(text)
    if m:
        return m.group(1).upper()
    m = _ANYWHERE.search(text)
    if m:
        return m.group(1) or m.group(2)
    return None


def letter_mass(top: Sequence[dict[str, float]] | None) -> dict[str, float]:
    """Probability of each letter among the first token's top logprobs; variants
    (" A", "a", "A") are summed. Empty when there are no logprobs."""
    mass = dict.fromkeys(LETTERS, 0.0)
    if not top:
        return {}
    for tok, lp in top[0].items():
        t = tok.strip().strip("*(\"'").upper()
        if t in mass and lp is not None:
            mass[t] += math.exp(lp)
    return mass


def letter_probs(top: Sequence[dict[str, float]] | None) -> dict[str, float] | None:
    """P(A..D) from the first token's top logprobs, renormalised over the four letters.

    None when no letter is among them.
    """
    mass = letter_mass(top)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {k: v / total for k, v in mass.items()}


def wants_logprobs(judge: Any, method: str) -> bool:
    if method == "text":
        return False
    if method == "logprobs":
        return True
    backend = judge.backend  # None under the Ray executor: just ask
    return backend is None or bool(getattr(backend, "supports_logprobs", False))


def answer_request(item: UserItem, cfg: UserOrientedConfig) -> Request:
    return Request.chat(
        render_request(item), params=SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens), seed=0
    )


def judge_request(item: UserItem, response: str, cfg: UserOrientedConfig, logprobs: bool) -> Request:
    """The judge's question about one answer: one token with its top alternatives (``logprobs``),
    else a short text whose letter is parsed."""
    if logprobs:
        p = SamplingParams(temperature=0.0, max_tokens=1, logprobs=cfg.judge_logprobs)
    else:
        p = SamplingParams(temperature=0.0, max_tokens=cfg.judge_max_tokens)
    return Request.chat(render_judge(item, response), params=p, seed=0)


def _unrated() -> dict[str, Any]:
    return {"rating": None, "method": None, "probs": None, "letter_mass": None, "judge_text": ""}


def _rate(rating: dict[str, Any], comp: Completion, method: str) -> bool:
    """Read the judge's letter into ``rating``; False when a logprobs answer has no letter
    probabilities (the judge is then asked again for text)."""
    if method == "text":
        rating.update(rating=letter_from_text(comp.text), method="text", judge_text=comp.text)
        return True
    probs = letter_probs(comp.top_logprobs)
    if probs is None:
        return False
    # letter_mass: how much of the first token's probability the four letters hold
    # (low = the judge wanted to write something else; its rating is then weak evidence)
    rating.update(
        rating=max(LETTERS, key=lambda k: probs[k]),
        method="logprobs",
        probs={k: round(v, 6) for k, v in probs.items()},
        letter_mass=round(sum(letter_mass(comp.top_logprobs).values()), 6),
        judge_text=comp.text,
    )
    return True


def answer_and_judge(
    llm: Any,
    judge: Any,
    items: Sequence[UserItem],
    cfg: UserOrientedConfig,
    answers: Sequence[Completion] | None = None,
) -> tuple[list[Completion], list[dict[str, Any]]]:
    """Answers and their ratings as one dataflow: each answer goes to the judge the moment it
    arrives, and a judge answer without letter probabilities is asked again as text at once, so
    both models' windows stay full. Judge requests go first in the window (downstream first).

    ``judge`` may be ``llm`` itself (one model answers and judges: one stream). With ``answers``
    given (``llm`` unused) only the judging runs. Same answers and ratings whatever order the
    completions arrive in: every request is fixed by its item alone.
    """
    n = len(items)
    got: list[Completion | None] = list(answers) if answers is not None else [None] * n
    ratings = [_unrated() for _ in items]
    use_logprobs = wants_logprobs(judge, cfg.judge_method)
    streams: list[Any] = []
    try:
        js = judge.stream()
        streams.append(js)

        def ask_judge(i: int, text: str, logprobs: bool, priority: int) -> None:
            js.submit(judge_request(items[i], text, cfg, logprobs), ("logprobs" if logprobs else "text", i), priority)

        if answers is None:
            ans = js if llm is judge else llm.stream()
            if ans is not js:
                streams.append(ans)
            ans.submit_many([(answer_request(it, cfg), ("answer", i)) for i, it in enumerate(items)])
        else:
            for i, a in enumerate(answers):
                ask_judge(i, a.text, use_logprobs, 0)
        steps = n if answers is not None else 2 * n
        with ui.progress("answers + judge" if answers is None else "judge", steps, status=True) as bar:
            while any(s.outstanding for s in streams):
                busy = [s for s in streams if s.outstanding]
                # one busy stream: block on it; two: look at each in turn without stalling the other
                timeout = None if len(busy) == 1 else 0.02
                for s in busy:
                    for (kind, i), comp in s.wait(timeout):
                        if kind == "answer":
                            got[i] = comp
                            ask_judge(i, comp.text, use_logprobs, 1)
                        elif not _rate(ratings[i], comp, kind):
                            answered = got[i]
                            assert answered is not None  # judged only once it had arrived
                            ask_judge(i, answered.text, False, 2)
                            continue
                        bar.advance(1, tokens=comp.completion_tokens)
                        bar.status(judge.ledger.brief())  # tokens (and cost) so far, both models
    finally:
        for s in streams:
            s.close()
    return [a for a in got if a is not None], ratings


def answer(llm: Any, items: Sequence[UserItem], cfg: UserOrientedConfig) -> list[Completion]:
    """The model's answers alone."""
    return llm.generate([answer_request(it, cfg) for it in items], desc="answers")


def judge_answers(
    judge: Any, items: Sequence[UserItem], answers: Sequence[str], cfg: UserOrientedConfig
) -> list[dict[str, Any]]:
    """Rate given answers; one dict per item with rating, method, probs and judge text."""
    comps = [Completion(text=a) for a in answers]
    return answer_and_judge(None, judge, items, cfg, answers=comps)[1]


def answer_and_rate(
    mcfg: ModelConfig, jcfg: ModelConfig, items: Sequence[UserItem], cfg: UserOrientedConfig, sink: Any
) -> tuple[list[Completion], list[dict[str, Any]], Any, Any]:
    """Open the model (``mcfg``) and the judge (``jcfg``), answer and rate ``items``; one usage
    ledger (and one cap) for both, saved to ``sink``. Returns (answers, ratings, the model's
    client, the judge's client), both closed. A server on either side: both at once
    (``answer_and_judge``); both in this process: one after the other."""
    if _remote(mcfg) or _remote(jcfg):
        # a server on either side: both at once, each answer judged as it arrives
        llm, jllm = mcfg.open(), jcfg.open()
        try:
            track("evaluate user-oriented", sink, llm, jllm)
            answers, ratings = answer_and_judge(llm, jllm, items, cfg)
        finally:
            llm.close()
            jllm.close()
    else:
        # both in this process: one after the other (running both would only split the cores,
        # and hold both models in memory)
        llm = mcfg.open()
        try:
            track("evaluate user-oriented", sink, llm)
            answers = answer(llm, items, cfg)
        finally:
            llm.close()
        jllm = jcfg.open()
        jllm.ledger = llm.ledger  # one ledger (and one cap) for both models
        try:
            ratings = judge_answers(jllm, items, [a.text for a in answers], cfg)
        finally:
            jllm.close()
    return answers, ratings, llm, jllm


def _remote(m: ModelConfig) -> bool:
    """Model calls that run outside this process: an OpenAI-compatible server or Ray actors."""
    from ..models.backends import parse_spec

    return parse_spec(m.model)[0] == "openai" or m.executor == "ray"


def summarise(
    items: Sequence[UserItem], answers: Sequence[Completion], ratings: Sequence[dict[str, Any]], model: str, judge: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(results.json dict, ratings.jsonl rows)."""
    rows = []
    for it, a, r in zip(items, answers, ratings, strict=True):
        rows.append(
            {
                "id": it.id,
                "instruction": it.instruction,
                "input": it.input,
                "response": a.text,
                "finish_reason": a.finish_reason,
                **r,
            }
        )
    dist = {k: sum(1 for r in rows if r["rating"] == k) for k in LETTERS}
    results = {
        "kind": "user-oriented",
        "model": model,
        "judge": judge,
        "distribution": dist,
        "n": len(rows),
        "unparsed": sum(1 for r in rows if r["rating"] is None),
        "share": {k: round(v / len(rows), 4) for k, v in dist.items()} if rows else {},
        "methods": {m: sum(1 for r in rows if r["method"] == m) for m in ("logprobs", "text")},
        "rater": "judge model (substitute for the paper's human raters)",
    }
    return results, rows
