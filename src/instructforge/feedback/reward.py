"""REFINE-AF's reward: automated feedback combined by a linear rule (arXiv 2505.06548, section 3.2).

``r = 0.0078*Rew - 0.4421*Und + 0.3212*Nat + 0.1520*Coh - 0.0274`` per (instruction, input,
output) triple, computed by ``feedback_components`` for both the RL reward and
``instructforge score``. The coefficients are *unconfirmed* (docs/methods.md: the
InstructMining quality rule, negated); they are config values with these defaults. A completion that yields no
parseable instance gets ``unparseable_penalty`` instead. The reward of a completion is the mean
over the instances it wrote (at most ``max_triples``). The rule was fitted to raw reward-model
logits; ``reward_scale`` (default raw) can put the judge substitute of Rew on a logit scale or
standardise every term over a batch (RESULTS.md: what each does on a real scoring run).

The reward function is a plain function ``(completions, **columns) -> list[float]``, the form
TRL's GRPO/RLOO trainers call; it also reports every component through TRL's ``log_metric``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.settings import option, validate
from ..data.records import Triple
from .scorers import DIMENSIONS

REWARD_MODEL = "reward_model"
JUDGE_SUBSTITUTE = "overall"  # the judge's P(yes) to an overall-quality question, standing in for Rew


@dataclass
class RewardConfig:
    """Coefficients of the linear rule (the paper's values, unconfirmed) and the parse penalty;
    the ``reward.`` settings of ``refine`` and ``score``."""

    w_reward_model: float = option(
        0.0078, "Coefficient of Rew, the reward-model score (or its judge substitute) (unconfirmed)"
    )
    w_understandability: float = option(
        -0.4421, "Coefficient of Und, UniEval understandability; negative in the rule as published (unconfirmed)"
    )
    w_naturalness: float = option(0.3212, "Coefficient of Nat, UniEval naturalness (unconfirmed)")
    w_coherence: float = option(0.1520, "Coefficient of Coh, UniEval coherence (unconfirmed)")
    intercept: float = option(-0.0274, "Intercept of the rule (unconfirmed)")
    unparseable_penalty: float = option(
        -1.0, "Reward of a completion with no parseable instance (below any value the rule gives)"
    )
    max_triples: int = option(5, "Instances scored per completion (Self-Instruct keeps at most 5 per task)", min=1)
    reward_scale: str = option(
        "raw",
        "How the terms enter the rule. raw: as scored (the rule as published; with the judge "
        "substitute Rew is a P(yes) in [0, 1] and moves the reward by at most w_reward_model); "
        "logit: the judge substitute's P(yes) becomes log(p / (1 - p)), the logit scale of a "
        "reward model such as oasst-rm-pythia-1.4b (a real reward model is left as it is); "
        "standardize: every term is z-scored over the triples scored together (one RL reward "
        "call, one score chunk) before the coefficients apply. DEVIATION unless raw",
        choices=("raw", "logit", "standardize"),
    )

    def __post_init__(self) -> None:
        validate(self)


def combine(rew: float, und: float, nat: float, coh: float, cfg: RewardConfig | None = None) -> float:
    """The linear rule.

    >>> round(combine(rew=1.0, und=0.5, nat=0.5, coh=0.5), 6)
    -0.00405
    >>> round(combine(0.0, 0.0, 1.0, 1.0), 6)
    0.4458
    """
    c = cfg or RewardConfig()
    return (
        c.w_reward_model * rew + c.w_understandability * und + c.w_naturalness * nat + c.w_coherence * coh + c.intercept
    )


_P_CLIP = 1e-4  # a P(yes) of exactly 0 or 1 has no logit: at most about +-9.2


def scale_terms(values: dict[str, list[float]], rew_key: str, scale: str) -> dict[str, list[float]]:
    """The rule's inputs under ``RewardConfig.reward_scale`` (``values``: term -> one score per
    triple; ``rew_key``: ``reward_model`` or the judge substitute ``overall``).

    >>> [round(x, 3) for x in scale_terms({"overall": [0.5, 0.9]}, "overall", "logit")["overall"]]
    [0.0, 2.197]
    >>> [round(x, 3) for x in scale_terms({"naturalness": [0.1, 0.3, 0.5]}, "overall", "standardize")["naturalness"]]
    [-1.225, 0.0, 1.225]
    """
    if scale == "raw":
        return values
    out = dict(values)
    if scale == "logit":
        if rew_key == JUDGE_SUBSTITUTE and rew_key in values:
            clipped = (min(max(p, _P_CLIP), 1 - _P_CLIP) for p in values[rew_key])
            out[rew_key] = [math.log(p / (1 - p)) for p in clipped]
        return out
    for k, xs in values.items():
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
        out[k] = [0.0 if sd == 0 else (x - mean) / sd for x in xs]  # one triple, or all equal: 0
    return out


def feedback_components(
    scorers: Sequence[Any], triples: Sequence[Triple], cfg: RewardConfig | None = None
) -> list[dict[str, float]]:
    """The automated feedback of each triple, combined by the linear rule.

    One dict per triple: the Rew source (``reward_model``, or the judge substitute ``overall``),
    naturalness, coherence, understandability and ``total`` (the rule). The scorers together
    must provide the three dimensions and a Rew source. RL's reward function and
    ``instructforge score`` both score through this function.

    >>> class Fixed:  # a stand-in scorer, only to show the call shape
    ...     def score(self, triples):
    ...         return {d: [0.5] * len(triples) for d in ("naturalness", "coherence", "understandability", "overall")}
    >>> [round(r["total"], 4) for r in feedback_components([Fixed()], [Triple("Say hi.", "", "Hi!")])]
    [-0.008]
    """
    c = cfg or RewardConfig()
    if not triples:
        return []
    scores: dict[str, list[float]] = {}
    for s in scorers:
        scores.update(s.score(triples))
    rew_key = REWARD_MODEL if REWARD_MODEL in scores else JUDGE_SUBSTITUTE
    missing = [d for d in (*DIMENSIONS, rew_key) if d not in scores]
    if missing:
        raise ValueError(f"the feedback scorers gave no {', '.join(missing)} score")
    terms = scale_terms({d: list(scores[d]) for d in (rew_key, *DIMENSIONS)}, rew_key, c.reward_scale)
    out = []
    for j in range(len(triples)):
        comp = {d: scores[d][j] for d in (rew_key, *DIMENSIONS)}  # as scored, whatever the scale
        comp["total"] = combine(
            terms[rew_key][j], terms["understandability"][j], terms["naturalness"][j], terms["coherence"][j], c
        )
        out.append(comp)
    return out


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (conversational data).

    >>> completion_text([{"role": "assistant", "content": "Input: 2+2\\nOutput: 4"}])
    'Input: 2+2\\nOutput: 4'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def make_reward_func(
    scorers: Sequence[Any],
    task_for: Callable[[str, bool], Any],
    cfg: RewardConfig | None = None,
    on_batch: Callable[[list[dict[str, float]]], None] | None = None,
) -> Callable[..., list[float]]:
    """Build the REFINE-AF reward function over ``scorers`` (each ``score(triples) -> {dim: [...]}``).

    The scorers together must provide naturalness, coherence, understandability and either
    ``reward_model`` or the judge substitute ``overall``. ``task_for(instruction,
    is_classification)`` gives the task a completion answers (``selfinstruct.instances.InstanceTask``):
    its ``instances(text)`` are what gets scored (at most ``max_triples``), its ``reward`` turns
    their feedback into the completion's reward. ``on_batch`` receives one dict of components
    per completion. Every triple of a batch is scored in one call of each scorer.

    >>> class Fixed:  # a stand-in scorer, only to show the call shape
    ...     def score(self, triples):
    ...         return {d: [0.5] * len(triples) for d in ("naturalness", "coherence", "understandability", "overall")}
    >>> from instructforge.selfinstruct.instances import InstanceTask
    >>> f = make_reward_func([Fixed()], InstanceTask)
    >>> [round(r, 4) for r in f(["Example 1\\nOutput: Paris.", ""], instruction=["Capital of France?"] * 2,
    ...                         is_classification=[False] * 2)]
    [-0.008, -1.0]
    """
    c = cfg or RewardConfig()

    def refine_af_reward(
        completions: list[Any],
        instruction: list[str],
        is_classification: list[bool] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        clf = is_classification or [False] * len(completions)
        tasks = [task_for(instruction[i], bool(clf[i])) for i in range(len(completions))]
        triples: list[Triple] = []
        owner: list[int] = []
        for i, comp in enumerate(completions):
            for inst in tasks[i].instances(completion_text(comp))[: c.max_triples]:
                triples.append(Triple(instruction[i], inst.input, inst.output))
                owner.append(i)
        feedback: list[list[dict[str, float]]] = [[] for _ in completions]
        for comp_scores, i in zip(feedback_components(scorers, triples, c), owner, strict=True):
            feedback[i].append(comp_scores)
        rewards, rows = [], []
        for task, fb in zip(tasks, feedback, strict=True):
            reward, row = task.reward(fb, c.unparseable_penalty)
            rewards.append(reward)
            rows.append(row)
        if log_metric is not None:
            for k, v in summarize(rows).items():
                log_metric(f"feedback/{k}", v)
        if on_batch is not None:
            on_batch(rows)
        return rewards

    return refine_af_reward


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each component over the completions that have it (parse rate over all).

    >>> summarize([{"parsed": 1.0, "total": 0.2, "naturalness": 0.9}, {"parsed": 0.0, "total": -1.0}])
    {'parsed': 0.5, 'total': -0.4, 'naturalness': 0.9}
    """
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if k in r and not math.isnan(r[k])]
        if vals:
            out[k] = sum(vals) / len(vals)
    return out
