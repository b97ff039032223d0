"""What a generate run will cost, before it runs: requests, tokens and cost for
``num_instructions`` accepted instructions, extrapolated from a measured sample (a small pilot
run, or the run so far when resuming) with a range.

The pipeline's work per accepted instruction is measured per step (ledger rows
``generate:bootstrap``, ``generate:classify``, ``generate:instances``, ``generate:speculative``):
requests per accepted instruction, and the mean prompt and completion tokens of a request,
counting cache hits as work (a pilot's answers may come from the cache; the real run's may not).
Bootstrap prompts scale with 1 / (acceptance x candidates per prompt), plus the prompts still in
flight when the target is reached (counted once: a cost of the run's end); classification with the
accepted count; instances (speculative ones included) with the tasks, plus the speculative answers
that went unused (once). The range is a 95% Wilson interval on the acceptance rate of the judged
candidates, carried through to the bootstrap requests, widened by the standard error of the
per-request token means (requests are summed, so their relative error shrinks as 1/sqrt(n)).

Known bias: the ROUGE-L novelty filter gets stricter as the pool grows, so the acceptance rate
of a long run falls below a small pilot's; BENCHMARKS.md has the measured error.
"""

from __future__ import annotations

import math
from typing import Any

from ..models.usage import Price

STEPS = ("bootstrap", "classify", "instances", "speculative")
Z = 1.96


def wilson(successes: int, n: int, z: float = Z) -> tuple[float, float]:
    """95% Wilson score interval of a proportion.

    >>> lo, hi = wilson(40, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.309, 0.498)
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _work(u: dict[str, Any]) -> tuple[int, float, float]:
    """(requests, prompt tokens, completion tokens) of a ledger row, cache hits included."""
    n = int(u.get("requests", 0)) + int(u.get("cache_hits", 0))
    p = float(u.get("prompt_tokens", 0)) + float(u.get("saved_prompt_tokens", 0))
    c = float(u.get("completion_tokens", 0)) + float(u.get("saved_completion_tokens", 0))
    return n, p, c


def estimate(
    stages: dict[str, dict[str, Any]],
    summary: dict[str, Any],
    num_instructions: int,
    *,
    price: Price | None = None,
    currency: str = "USD",
    spent: dict[str, Any] | None = None,
    sample: str = "pilot",
) -> dict[str, Any]:
    """The estimate for ``num_instructions`` from the measured ``stages`` (ledger stages of the
    sample: name -> usage dict) and the sample's ``summary`` (pipeline.summarize). ``spent``: the
    ledger total of the run so far when the sample is that run (then ``still_to_spend`` is the
    estimate minus it)."""
    accepted = int(summary.get("accepted") or 0)
    if accepted <= 0:
        raise ValueError("the sample has no accepted instruction to extrapolate from")
    judged = int(summary.get("candidates") or 0) - int((summary.get("rejections_by_reason") or {}).get("surplus", 0))
    rate = accepted / judged if judged else 1.0
    lo_rate, hi_rate = wilson(accepted, judged) if judged else (rate, rate)
    steps: dict[str, Any] = {}
    total = {"requests": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0}
    low = dict(total)
    high = dict(total)
    tasks_done = int(summary.get("tasks_accepted") or 0) + sum((summary.get("tasks_rejected") or {}).values())
    for step, names in (("bootstrap", ("bootstrap",)), ("classify", ("classify",)), ("instances", STEPS[2:])):
        rows = [u for name, u in stages.items() if name.rsplit(":", 1)[-1] in names]
        n = sum(_work(u)[0] for u in rows)
        if n == 0:
            continue
        p = sum(_work(u)[1] for u in rows) / n
        c = sum(_work(u)[2] for u in rows) / n
        tail, lo_n, hi_n = 0.0, None, None
        prompts = min(n, int(summary.get("prompts") or 0))
        if step == "bootstrap" and prompts and judged:
            # accepted per judged prompt = acceptance x candidates per prompt (the last prompt's
            # surplus candidates count as candidates: it could have given them all); prompts
            # answered but never judged (in flight when the target was reached) are a cost of
            # the run's end, paid once
            per_prompt = int(summary.get("candidates") or 0) / prompts
            tail = float(n - prompts)
            expected = num_instructions / (rate * per_prompt) + tail
            lo_n = num_instructions / (hi_rate * per_prompt) + tail
            hi_n = num_instructions / (max(lo_rate, 1e-9) * per_prompt) + tail
        elif step == "instances" and tasks_done:
            # one instance answer per task; speculative answers not used (the task was
            # classification after all) are, like the bootstrap's, a cost of the run's end
            tail = float(max(0, n - tasks_done))
            expected = tasks_done / accepted * num_instructions + tail
        else:
            expected = n / accepted * num_instructions
        if lo_n is None or hi_n is None:
            lo_n = hi_n = expected
        rel = Z / math.sqrt(n)  # the sample's token means, relative standard error ~ 1/sqrt(n)
        steps[step] = {
            "requests": round(expected),
            "prompt_tokens_per_request": round(p, 1),
            "completion_tokens_per_request": round(c, 1),
            "sample_requests": n,
            "end_of_run_requests": round(tail),
        }
        for acc, k, f in ((total, expected, 1.0), (low, lo_n, 1 - min(rel, 0.5)), (high, hi_n, 1 + rel)):
            acc["requests"] += k
            acc["prompt_tokens"] += k * p
            acc["completion_tokens"] += k * c * f

    def shaped(d: dict[str, float]) -> dict[str, Any]:
        out: dict[str, Any] = {k: round(v) for k, v in d.items()}
        out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
        out["cost"] = round(price.cost(d["prompt_tokens"], d["completion_tokens"]), 6) if price is not None else None
        return out

    result: dict[str, Any] = {
        "num_instructions": num_instructions,
        "sample": sample,
        "sample_accepted": accepted,
        "sample_judged": judged,
        "acceptance_rate": round(rate, 4),
        "acceptance_interval": [round(lo_rate, 4), round(hi_rate, 4)],
        "currency": currency,
        "expected": shaped(total),
        "low": shaped(low),
        "high": shaped(high),
        "steps": steps,
    }
    if spent is not None:
        # what is left to do: the expectation minus the work done so far (cache hits are work done)
        exp = result["expected"]
        done_requests, done_p, done_c = _work(spent)
        result["spent"] = {
            k: spent.get(k) for k in ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "cost")
        }
        left_p = max(0.0, exp["prompt_tokens"] - done_p)
        left_c = max(0.0, exp["completion_tokens"] - done_c)
        result["still_to_spend"] = {
            "requests": max(0, exp["requests"] - done_requests),
            "total_tokens": round(left_p + left_c),
            "cost": round(price.cost(left_p, left_c), 6) if price is not None else None,
        }
    return result
