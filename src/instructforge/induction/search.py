"""Instruction search beyond the paper, after APE (Zhou et al. 2023, "Large Language Models Are
Human-Level Prompt Engineers", sections 3.1-3.3).

1. Propose: ``num_candidates`` instructions, each induced from its own random k-demonstration
   subsample, sampled at temperature 0.9 (distinct ``sample_index``); duplicates merged.
2. Score: execution accuracy on held-out demonstrations (never shown in a proposal prompt),
   by successive halving: every candidate gets a small budget, the better half gets twice as
   much, until one is left or the held-out set is used up.
3. Optionally resample: ask for ``variations`` rewordings of the leader and score them on the
   full held-out set with it; the best wins.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from ..core.errors import InputError
from ..core.prompts import render
from ..core.settings import option, validate
from ..models.client import LLM
from ..models.steps import Steps, run_steps
from ..models.types import SamplingParams
from .benchmark import TestItem
from .execute import ExecuteConfig, execute_steps
from .induce import InduceConfig, induce_steps, make_request, postprocess
from .metrics import MetricName, mean, score


@dataclass
class SearchConfig:
    """Settings of the search. Its proposals are induced with the InduceConfig's k, seed,
    max_tokens and prompt_format, sampled at ``temperature``."""

    num_candidates: int = option(
        8,
        "Proposals, each induced from its own random k-subsample (APE samples many; few here for CPU)",
        min=1,
        max=1000,
        flag="--num-candidates",
    )
    temperature: float = option(0.9, "Proposal sampling temperature (APE: 0.9)", min=0, max=2)
    max_eval: int = option(20, "Held-out demonstrations used for scoring, at most", min=1)
    min_eval: int = option(5, "Fewer held-out demonstrations than this (after k for the proposals): no search", min=1)
    first_budget: int = option(5, "Held-out demonstrations each candidate is scored on in round 1", min=1)
    eta: int = option(2, "Successive halving: keep 1/eta of the candidates, multiply the budget by eta", min=2)
    variations: int = option(
        0, "Rewordings of the leader tried at the end (APE's resampling)", min=0, max=100, flag="--variations"
    )
    metric: MetricName | None = option(
        None,
        "Held-out scoring metric; null: exact_match (induce), each task's own metric (induction evaluate)",
        flag="--metric",
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class Candidate:
    text: str
    source: str  # "proposal" or "variation"
    scores: dict[str, float] = field(default_factory=dict)  # held-out id -> score
    rounds: int = 0

    @property
    def accuracy(self) -> float:
        return mean(self.scores.values())


@dataclass
class SearchResult:
    best: Candidate
    candidates: list[Candidate]

    def table(self) -> list[dict[str, object]]:
        rows = sorted(self.candidates, key=lambda c: (-len(c.scores), -c.accuracy))
        return [
            {
                "instruction": c.text,
                "source": c.source,
                "n_eval": len(c.scores),
                "accuracy": round(c.accuracy, 4),
                "rounds": c.rounds,
                "chosen": c is self.best,
            }
            for c in rows
        ]


def split_demos(
    demos: list[tuple[str, str]], cfg: SearchConfig, icfg: InduceConfig
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(proposal pool, held-out set): the held-out part never appears in a proposal prompt."""
    order = list(demos)
    random.Random(icfg.seed).shuffle(order)
    n_eval = min(cfg.max_eval, max(len(order) - icfg.k, 0))
    return order[n_eval:], order[:n_eval]


def can_search(n_demos: int, cfg: SearchConfig, icfg: InduceConfig) -> bool:
    return n_demos - icfg.k >= cfg.min_eval


def _evaluate(cands: list[Candidate], items: list[TestItem], metric: str, ecfg: ExecuteConfig) -> Steps[None]:
    todo = [(c, it) for c in cands for it in items if it.id not in c.scores]
    answers = yield from execute_steps([(c.text, it.input) for c, it in todo], ecfg)
    for (c, it), a in zip(todo, answers, strict=True):
        c.scores[it.id] = score(a, it.answers, metric)


def search(
    llm: LLM,
    demos: list[tuple[str, str]],
    cfg: SearchConfig | None = None,
    icfg: InduceConfig | None = None,
    ecfg: ExecuteConfig | None = None,
    held_out: list[TestItem] | None = None,
) -> SearchResult:
    """Propose, score by successive halving, optionally resample; return the best candidate.

    ``held_out`` overrides the scoring set (the benchmark passes answers with several
    acceptable forms); otherwise it is split off ``demos``.
    """
    result: SearchResult = run_steps(llm, [search_steps(demos, cfg, icfg, ecfg, held_out)], "searching")[0]
    return result


def search_steps(
    demos: list[tuple[str, str]],
    cfg: SearchConfig | None = None,
    icfg: InduceConfig | None = None,
    ecfg: ExecuteConfig | None = None,
    held_out: list[TestItem] | None = None,
) -> Steps[SearchResult]:
    """``search`` as a step procedure (steps.py), so many searches can share one stream."""
    cfg = cfg or SearchConfig()
    icfg = icfg or InduceConfig()
    ecfg = ecfg or ExecuteConfig()
    if ecfg.prompt_format is None:
        ecfg = replace(ecfg, prompt_format=icfg.prompt_format)
    metric = cfg.metric or "exact_match"
    if held_out is None:
        pool, evals = split_demos(demos, cfg, icfg)
        held_out = [TestItem(str(i), x, [y]) for i, (x, y) in enumerate(evals)]
        if not held_out:
            pool = list(demos)
    else:
        pool = list(demos)
    rng = random.Random(icfg.seed)
    k = min(icfg.k, len(pool))
    if k == 0:
        raise InputError("search: no demonstrations")
    subsets = [rng.sample(pool, k) for _ in range(cfg.num_candidates)]
    sampled = replace(icfg, k=k, temperature=cfg.temperature)
    texts = yield from induce_steps(subsets, sampled, sample_indices=list(range(cfg.num_candidates)))
    # A candidate needs at least one letter or digit ("," is not an instruction).
    cands = [Candidate(t, "proposal") for t in dict.fromkeys(t for t in texts if any(ch.isalnum() for ch in t))]
    if not cands:
        cands = [Candidate(texts[0] if texts else "", "proposal")]
    alive, budget = list(cands), min(cfg.first_budget, len(held_out))
    while held_out:
        yield from _evaluate(alive, held_out[:budget], metric, ecfg)
        for c in alive:
            c.rounds += 1
        if budget >= len(held_out):
            break
        alive.sort(key=lambda c: -c.accuracy)
        alive = alive[: max(1, math.ceil(len(alive) / cfg.eta))]
        budget = min(budget * cfg.eta, len(held_out))  # the survivor ends scored on all of them
    best = max(alive, key=lambda c: c.accuracy)
    if cfg.variations > 0 and held_out:
        params = SamplingParams(temperature=cfg.temperature, max_tokens=icfg.max_tokens)
        prompt = render(__package__, "variation", instruction=best.text)
        reqs = [make_request(prompt, params, icfg.prompt_format, icfg.seed, i) for i in range(cfg.variations)]
        known = {c.text for c in cands}
        comps = yield reqs
        new = [
            t
            for t in dict.fromkeys(postprocess(c.text) for c in comps)
            if any(ch.isalnum() for ch in t) and t not in known
        ]
        extra = [Candidate(t, "variation") for t in new]
        cands.extend(extra)
        yield from _evaluate([best, *extra], held_out, metric, ecfg)
        for c in extra:
            c.rounds = 1
        best = max([best, *extra], key=lambda c: (c.accuracy, c is best))
    return SearchResult(best, cands)
