"""Instruction search beyond the paper, after APE (Zhou et al. 2023, "Large Language Models Are
Human-Level Prompt Engineers", sections 3.1-3.3; docs/methods.md lists every difference).

1. Propose: ``num_candidates`` instructions, each induced from its own random k-demonstration
   subsample, sampled at temperature 0.9, top_p 0.9 (distinct ``sample_index``); duplicates
   merged. Or score given instructions instead (``search(..., given=[...])``: APE's evaluate-only use).
2. Score each (candidate, held-out demonstration) pair (held-out: never shown in a proposal
   prompt) by ``score``: ``execution`` (0-1: the executed answer scored with the task's metric)
   or ``likelihood`` (APE: the mean log-probability per token of the gold output given the
   execution prompt; nothing is generated). A candidate's score is the mean over the
   demonstrations it was scored on. Which pairs are scored is the ``method``:
   ``halving`` (successive halving: every candidate on a small budget, the better 1/eta on eta
   times as many, until one is left or the held-out set is used up) or ``ucb`` (APE's UCB
   bandit: ``ucb_rounds`` rounds, each scoring the ``per_round`` candidates of highest
   score + c * sqrt(ln(total evaluations) / evaluations) on ``num_samples`` more demonstrations).
3. Iterative Monte Carlo (``rounds``): each round asks for ``variations`` rewordings of each of
   the ``resample_top`` best candidates and scores leaders and rewordings on the whole held-out
   set; the best so far wins (ties keep the earlier one).

Every request the search sends is counted (``SearchResult.calls``, cache hits included), so
budgets of different settings can be compared.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..core.errors import InputError
from ..core.prompts import render
from ..core.settings import option, validate
from ..models.client import LLM
from ..models.steps import Steps, on, run_steps
from ..models.types import Completion, Request, SamplingParams
from .benchmark import TestItem
from .execute import ExecuteConfig, execute_steps, render_execute_prompt
from .induce import InduceConfig, induce_steps, make_request, postprocess
from .metrics import MetricName, mean, score

#: the score of an example the backend could not score (likelihood), instead of -inf
UNSCORABLE = -100.0
#: rewordings per leader per round when ``rounds`` is set and ``variations`` is 0
DEFAULT_VARIATIONS = 4


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
    top_p: float = option(0.9, "Proposal nucleus sampling top_p (APE: 0.9)", min=0, max=1)
    method: Literal["halving", "ucb"] = option(
        "halving",
        "Which candidates get scored on which held-out demonstrations: successive halving, or "
        "APE's UCB bandit (evaluate: --search METHOD runs the search)",
        choices=("halving", "ucb"),
        flag="--search",
    )
    score: Literal["execution", "likelihood"] = option(
        "execution",
        "execution: held-out execution accuracy (APE's exec_accuracy); likelihood: mean log-probability "
        "per token of the gold output given instruction + input (APE's likelihood)",
        choices=("execution", "likelihood"),
        flag="--score",
    )
    max_eval: int = option(20, "Held-out demonstrations used for scoring, at most", min=1)
    min_eval: int = option(5, "Fewer held-out demonstrations than this (after k for the proposals): no search", min=1)
    first_budget: int = option(5, "Held-out demonstrations each candidate is scored on in round 1", min=1)
    eta: int = option(2, "Successive halving: keep 1/eta of the candidates, multiply the budget by eta", min=2)
    variations: int = option(
        0,
        "Rewordings of each leader per resampling round (APE's iterative Monte Carlo); "
        f"0: none, or {DEFAULT_VARIATIONS} when rounds is set",
        min=0,
        max=100,
        flag="--variations",
    )
    rounds: int | None = option(
        None,
        "Iterative Monte Carlo rounds, each rewording the resample_top best candidates "
        "(null: 1 when variations > 0, else none)",
        min=0,
        max=100,
        flag="--rounds",
    )
    resample_top: int = option(1, "Candidates reworded per round, best first", min=1, max=100)
    ucb_rounds: int = option(5, "ucb: bandit rounds (APE: rounds 5)", min=1, max=1000)
    per_round: float = option(
        0.25,
        "ucb: candidates scored per round; < 1: that share of the candidates, at least 1 "
        "(APE: num_prompts_per_round 50 of 250 proposals)",
        min=0,
        min_open=True,
    )
    num_samples: int = option(
        5, "ucb: held-out demonstrations per chosen candidate per round (APE: num_samples 50)", min=1
    )
    c: float = option(1.0, "ucb: exploration weight (APE: c 1.0)", min=0)
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
    source: str  # "proposal", "variation" or "given"
    scores: dict[str, float] = field(default_factory=dict)  # held-out id -> score
    rounds: int = 0

    @property
    def score(self) -> float:
        """Mean score over the held-out demonstrations it was scored on (0 when none)."""
        return mean(self.scores.values())

    accuracy = score  # the execution score's older name

    @property
    def evaluated(self) -> int:
        return len(self.scores)


@dataclass
class SearchResult:
    best: Candidate
    candidates: list[Candidate]
    score_kind: str = "execution"
    method: str = "halving"
    calls: int = 0  # requests the search sent (proposals, rewordings, scoring), cache hits included

    def table(self) -> list[dict[str, Any]]:
        rows = sorted(self.candidates, key=lambda c: (-c.evaluated, -c.score))
        return [
            {
                "text": c.text,
                "score": round(c.score, 4),
                "evaluated": c.evaluated,
                "source": c.source,
                "rounds": c.rounds,
                "chosen": c is self.best,
            }
            for c in rows
        ]

    def summary(self) -> dict[str, Any]:
        """What a results file keeps: the table, the score kind, the method and the calls."""
        return {"score": self.score_kind, "method": self.method, "calls": self.calls, "candidates": self.table()}


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


def _evaluate(todo: list[tuple[Candidate, TestItem]], metric: str, ecfg: ExecuteConfig, kind: str) -> Steps[None]:
    """Score the (candidate, item) pairs not scored yet (one step; execution: two when an
    answer must be decoded again, see execute.py)."""
    todo = list({(id(c), it.id): (c, it) for c, it in todo if it.id not in c.scores}.values())
    if not todo:
        return
    if kind == "likelihood":
        params = SamplingParams(temperature=0.0, max_tokens=1)
        reqs = [
            replace(
                make_request(render_execute_prompt(c.text, it.input), params, ecfg.prompt_format or "raw", ecfg.seed),
                continuation=" " + it.answers[0].strip(),
            )
            for c, it in todo
        ]
        comps = yield from on("execute", _one_step(reqs))
        for (c, it), comp in zip(todo, comps, strict=True):
            m = comp.mean_logprob if comp.ok else None
            c.scores[it.id] = UNSCORABLE if m is None else max(m, UNSCORABLE)
        return
    answers = yield from on("execute", execute_steps([(c.text, it.input) for c, it in todo], ecfg))
    for (c, it), a in zip(todo, answers, strict=True):
        c.scores[it.id] = score(a, it.answers, metric)


def _one_step(reqs: list[Request]) -> Steps[list[Completion]]:
    comps = yield reqs
    return comps


def _halving(cands: list[Candidate], held_out: list[TestItem], cfg: SearchConfig, run: Any) -> Steps[Candidate]:
    alive, budget = list(cands), min(cfg.first_budget, len(held_out))
    while True:
        yield from run([(c, it) for c in alive for it in held_out[:budget]])
        for c in alive:
            c.rounds += 1
        if budget >= len(held_out):
            break
        alive.sort(key=lambda c: -c.score)
        alive = alive[: max(1, math.ceil(len(alive) / cfg.eta))]
        budget = min(budget * cfg.eta, len(held_out))  # the survivor ends scored on all of them
    return max(alive, key=lambda c: c.score)


def _ucb(
    cands: list[Candidate], held_out: list[TestItem], cfg: SearchConfig, run: Any, rng: random.Random
) -> Steps[Candidate]:
    """APE's UCB bandit. Each candidate walks the held-out set in its own random order, so a
    pull scores demonstrations it has not seen; one that has seen them all is not pulled again
    (its score is exact)."""
    order = {id(c): rng.sample(held_out, len(held_out)) for c in cands}
    n_pick = int(len(cands) * cfg.per_round) if cfg.per_round < 1 else int(cfg.per_round)
    n_pick = min(max(1, n_pick), len(cands))
    for _ in range(cfg.ucb_rounds):
        open_ = [c for c in cands if c.evaluated < len(held_out)]
        if not open_:
            break
        total = sum(c.evaluated for c in cands)
        if total == 0:
            picked = rng.sample(open_, min(n_pick, len(open_)))
        else:
            log_total = math.log(total + 1e-3 * len(cands))  # APE adds 1e-3 to every count
            bound = {id(c): c.score + cfg.c * math.sqrt(log_total / (c.evaluated + 1e-3)) for c in open_}
            picked = sorted(open_, key=lambda c: bound[id(c)], reverse=True)[:n_pick]
        todo = []
        for c in picked:
            fresh = [it for it in order[id(c)] if it.id not in c.scores][: cfg.num_samples]
            todo += [(c, it) for it in fresh]
            c.rounds += 1
        yield from run(todo)
    scored = [c for c in cands if c.evaluated] or cands
    return max(scored, key=lambda c: (c.score, c.evaluated))


def _counted(proc: Steps[Any], tally: list[int]) -> Generator[Any, Any, Any]:
    """``proc``, counting the requests of every step it yields into ``tally[0]``."""
    try:
        reqs = next(proc)
        while True:
            tally[0] += len(reqs)
            reqs = proc.send((yield reqs))
    except StopIteration as done:
        return done.value


def search(
    llm: LLM,
    demos: list[tuple[str, str]],
    cfg: SearchConfig | None = None,
    icfg: InduceConfig | None = None,
    ecfg: ExecuteConfig | None = None,
    held_out: list[TestItem] | None = None,
    given: list[str] | None = None,
    executor: LLM | None = None,
) -> SearchResult:
    """Propose (or take ``given`` instructions), score, optionally resample; return the best.

    ``held_out`` overrides the scoring set (the benchmark passes answers with several
    acceptable forms); otherwise it is split off ``demos`` (all of them with ``given``).
    ``executor``: the model that executes (or, for likelihood, scores) the candidates;
    default ``llm``, which proposes them.
    """
    procs = [search_steps(demos, cfg, icfg, ecfg, held_out, given)]
    models = {"execute": executor} if executor is not None else None
    result: SearchResult = run_steps(llm, procs, "searching", models)[0]
    return result


def search_steps(
    demos: list[tuple[str, str]],
    cfg: SearchConfig | None = None,
    icfg: InduceConfig | None = None,
    ecfg: ExecuteConfig | None = None,
    held_out: list[TestItem] | None = None,
    given: list[str] | None = None,
) -> Steps[SearchResult]:
    """``search`` as a step procedure (steps.py), so many searches can share one stream."""
    tally = [0]
    result: SearchResult = yield from _counted(_search(demos, cfg, icfg, ecfg, held_out, given), tally)
    result.calls = tally[0]
    return result


def _search(
    demos: list[tuple[str, str]],
    cfg: SearchConfig | None,
    icfg: InduceConfig | None,
    ecfg: ExecuteConfig | None,
    held_out: list[TestItem] | None,
    given: list[str] | None,
) -> Steps[SearchResult]:
    cfg = cfg or SearchConfig()
    icfg = icfg or InduceConfig()
    ecfg = ecfg or ExecuteConfig()
    if ecfg.prompt_format is None:
        ecfg = replace(ecfg, prompt_format=icfg.prompt_format)
    metric = cfg.metric or "exact_match"
    rng = random.Random(icfg.seed)
    if held_out is None:
        if given is not None:
            order = list(demos)
            rng.shuffle(order)
            evals, pool = order[: cfg.max_eval], list[tuple[str, str]]()
        else:
            pool, evals = split_demos(demos, cfg, icfg)
        held_out = [TestItem(str(i), x, [y]) for i, (x, y) in enumerate(evals)]
        if not held_out:
            pool = list(demos)
    else:
        pool = list(demos)
    if given is not None:
        cands = [Candidate(t, "given") for t in dict.fromkeys(t.strip() for t in given if t.strip())]
        if not cands:
            raise InputError("search: no candidate instructions given")
    else:
        k = min(icfg.k, len(pool))
        if k == 0:
            raise InputError("search: no demonstrations")
        subsets = [rng.sample(pool, k) for _ in range(cfg.num_candidates)]
        texts = yield from induce_steps(
            subsets,
            replace(icfg, k=k, temperature=cfg.temperature),
            top_p=cfg.top_p,
            sample_indices=list(range(cfg.num_candidates)),
        )
        # A candidate needs at least one letter or digit ("," is not an instruction).
        cands = [Candidate(t, "proposal") for t in dict.fromkeys(t for t in texts if any(ch.isalnum() for ch in t))]
        if not cands:
            cands = [Candidate(texts[0] if texts else "", "proposal")]

    def run(todo: list[tuple[Candidate, TestItem]]) -> Steps[None]:
        return _evaluate(todo, metric, ecfg, cfg.score)

    if not held_out:
        return SearchResult(cands[0], cands, cfg.score, cfg.method)
    if cfg.method == "ucb":
        best = yield from _ucb(cands, held_out, cfg, run, rng)
    else:
        best = yield from _halving(cands, held_out, cfg, run)
    rounds = cfg.rounds if cfg.rounds is not None else (1 if cfg.variations > 0 else 0)
    n_var = cfg.variations or DEFAULT_VARIATIONS
    params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=icfg.max_tokens)
    for r in range(rounds):
        leaders = sorted(cands, key=lambda c: (c is not best, -c.evaluated, -c.score))[: cfg.resample_top]
        reqs = [
            make_request(
                render(__package__, "variation", instruction=lead.text),
                params,
                icfg.prompt_format,
                icfg.seed,
                1000 * r + i,
            )
            for lead in leaders
            for i in range(n_var)
        ]
        comps = yield reqs
        known = {c.text for c in cands}
        new = [
            t
            for t in dict.fromkeys(postprocess(c.text) for c in comps)
            if any(ch.isalnum() for ch in t) and t not in known
        ]
        extra = [Candidate(t, "variation", rounds=1) for t in new]
        cands.extend(extra)
        yield from run([(c, it) for c in [*leaders, *extra] for it in held_out])
        full = [c for c in cands if c.evaluated == len(held_out)]
        best = max(full, key=lambda c: (c.score, c is best))
    return SearchResult(best, cands, cfg.score, cfg.method)
