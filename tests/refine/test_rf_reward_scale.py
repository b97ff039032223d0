"""RewardConfig.reward_scale: the REFINE-AF rule was fitted to raw reward-model logits; with the
judge substitute Rew is a P(yes) in [0, 1]. The scores below are six records of a real run
(``instructforge score --judge embedded`` on seed tasks, RESULTS.md "Reward scale")."""

from __future__ import annotations

import math

import pytest

from instructforge.core.errors import InputError
from instructforge.data.records import Triple
from instructforge.feedback.reward import RewardConfig, combine, feedback_components

# (overall = judge substitute of Rew, naturalness, coherence, understandability)
ROWS = [
    (0.2359, 0.3521, 0.2596, 0.4413),
    (0.1924, 0.3197, 0.1604, 0.2844),
    (0.1872, 0.3620, 0.3302, 0.4575),
    (0.4001, 0.5641, 0.2225, 0.5160),
    (0.2779, 0.3549, 0.3518, 0.2726),
    (0.1473, 0.2299, 0.1677, 0.1062),
]
TRIPLES = [Triple(f"Task {i}.", "", f"Answer {i}.") for i in range(len(ROWS))]


class Stored:
    def score(self, triples):
        keys = ("overall", "naturalness", "coherence", "understandability")
        return {k: [r[j] for r in ROWS[: len(triples)]] for j, k in enumerate(keys)}


def totals(scale: str, n: int = len(ROWS)) -> list[float]:
    return [c["total"] for c in feedback_components([Stored()], TRIPLES[:n], RewardConfig(reward_scale=scale))]


def test_default_is_the_rule_as_published():
    assert RewardConfig().reward_scale == "raw"
    assert totals("raw") == [combine(o, u, n, c) for o, n, c, u in ROWS]


def test_raw_rew_barely_moves_the_reward():
    w = RewardConfig()
    rew_term = [w.w_reward_model * r[0] for r in ROWS]
    und_term = [w.w_understandability * r[3] for r in ROWS]
    assert max(rew_term) - min(rew_term) < 0.004 < 0.1 < max(und_term) - min(und_term)


def test_logit_maps_the_judge_substitute_and_keeps_the_components_raw():
    raw, logit = totals("raw"), totals("logit")
    w = RewardConfig().w_reward_model
    for (o, *_), a, b in zip(ROWS, raw, logit, strict=True):
        assert b - a == pytest.approx(w * (math.log(o / (1 - o)) - o))
    comps = feedback_components([Stored()], TRIPLES, RewardConfig(reward_scale="logit"))
    assert [c["overall"] for c in comps] == [r[0] for r in ROWS]  # logged as scored


def test_logit_leaves_a_real_reward_model_alone():
    class WithRM(Stored):
        def score(self, triples):
            s = super().score(triples)
            s["reward_model"] = [2.5, -1.0, 0.3, 0.0, 1.0, -3.0][: len(triples)]
            return s

    cfgs = [RewardConfig(reward_scale=s) for s in ("raw", "logit")]
    raw, logit = ([c["total"] for c in feedback_components([WithRM()], TRIPLES, cfg)] for cfg in cfgs)
    assert raw == logit


def test_standardize_zscores_each_term_over_the_batch():
    w = RewardConfig()
    got = totals("standardize")
    cols = list(zip(*ROWS, strict=True))

    def z(xs):
        m = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
        return [(x - m) / sd for x in xs]

    o, n, c, u = (z(list(col)) for col in cols)
    want = [
        w.w_reward_model * o[i]
        + w.w_understandability * u[i]
        + w.w_naturalness * n[i]
        + w.w_coherence * c[i]
        + w.intercept
        for i in range(len(ROWS))
    ]
    assert got == pytest.approx(want)
    assert totals("standardize", 1) == [pytest.approx(w.intercept)]  # one triple: every z is 0


def test_unknown_scale_is_an_input_error():
    with pytest.raises(InputError, match="reward_scale"):
        RewardConfig(reward_scale="sigmoid")
