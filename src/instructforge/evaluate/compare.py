"""Per-task comparison of two evaluations, REFINE-AF's headline form (Roy et al. 2025, section 5:
"share of SuperNI tasks on which the model improves over the Self-Instruct baseline").

Reads two evaluation dirs' ``results.json`` (SuperNI, or Instruction Induction with a per-task
``execution_accuracy``), takes per-task deltas B - A, counts wins/ties/losses for B, and gives
paired bootstrap 95% intervals by resampling *tasks* (the unit of the headline) with
replacement, for the mean delta and for the win share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.settings import option, validate
from ..data.outdir import RESULTS

DEFAULT_METRIC = {"superni": "rougeL", "induction": "execution_accuracy"}


@dataclass
class CompareConfig:
    """Every setting of ``instructforge compare`` (``instructforge config show compare``)."""

    metric: str | None = option(
        None,
        "Per-task metric (default: the kind's headline metric, rougeL for SuperNI, "
        "execution_accuracy for Instruction Induction)",
        flag=True,
    )
    tie_threshold: float = option(0.0, "|B - A| <= this counts as a tie (0: only equal scores tie)", min=0, flag=True)
    bootstrap: int = option(10000, "Paired bootstrap resamples of the task set (0: no intervals)", min=0, flag=True)
    seed: int = option(0, "Bootstrap RNG seed", flag=True)

    def __post_init__(self) -> None:
        validate(self)


def default_out(dir_a: Path, dir_b: Path) -> Path:
    """Where a comparison goes without ``--out``: ``EVAL_B/compare_vs_<name of EVAL_A>.json``."""
    return Path(dir_b) / f"compare_vs_{Path(dir_a).resolve().name}.json"


def load_results(eval_dir: Path) -> dict[str, Any]:
    path = Path(eval_dir) / RESULTS
    if not path.is_file():
        raise InputError.at(path, None, "not found (is this an evaluation dir?)")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    if not isinstance(d, dict) or "tasks" not in d:
        raise InputError.at(path, None, 'no per-task results ("tasks")')
    return d


def task_scores(results: dict[str, Any], metric: str, path: Path) -> dict[str, float]:
    """{task: score} from a results dict whose ``tasks`` is a mapping or a list of rows."""
    tasks = results["tasks"]
    if isinstance(tasks, list):
        tasks = {str(r.get("task") or r.get("name")): r for r in tasks if isinstance(r, dict)}
    if not isinstance(tasks, dict):
        raise InputError.at(path, None, '"tasks" must be an object or a list')
    out = {}
    for name, row in tasks.items():
        v = row.get(metric) if isinstance(row, dict) else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[name] = float(v)
    if not out:
        raise InputError.at(path, None, f'no task has a numeric "{metric}"')
    return out


def outcome(delta: float, threshold: float) -> str:
    """'win' when B beats A by more than the threshold, 'loss' when it trails by more, else 'tie'.

    >>> [outcome(d, 0.5) for d in (1.0, 0.5, -0.2, -3.0)]
    ['win', 'tie', 'tie', 'loss']
    """
    if delta > threshold:
        return "win"
    if delta < -threshold:
        return "loss"
    return "tie"


def bootstrap_ci(deltas: np.ndarray, threshold: float, n: int, seed: int) -> dict[str, list[float]]:
    """Percentile 95% intervals of the mean delta and of the win share, resampling tasks."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(deltas), size=(n, len(deltas)))
    sample = deltas[idx]
    means = sample.mean(axis=1)
    wins = (sample > threshold).mean(axis=1)

    def pct(x: np.ndarray) -> list[float]:
        lo, hi = np.percentile(x, [2.5, 97.5])
        return [round(float(lo), 4), round(float(hi), 4)]

    return {"mean_delta": pct(means), "win": pct(wins)}


def compare(dir_a: Path, dir_b: Path, cfg: CompareConfig) -> dict[str, Any]:
    """The comparison dict (written as JSON by the CLI)."""
    ra, rb = load_results(dir_a), load_results(dir_b)
    ka, kb = ra.get("kind", "superni"), rb.get("kind", "superni")
    if ka != kb:
        raise InputError.at(Path(dir_b) / RESULTS, None, f'kind "{kb}" cannot be compared with "{ka}" ({dir_a})')
    metric = cfg.metric or DEFAULT_METRIC.get(ka, "rougeL")
    sa = task_scores(ra, metric, Path(dir_a) / RESULTS)
    sb = task_scores(rb, metric, Path(dir_b) / RESULTS)
    common = sorted(set(sa) & set(sb))
    if not common:
        raise InputError.at(Path(dir_b) / RESULTS, None, f"no task in common with {dir_a}")
    tasks = {}
    for t in common:
        d = sb[t] - sa[t]
        tasks[t] = {"a": sa[t], "b": sb[t], "delta": round(d, 4), "outcome": outcome(d, cfg.tie_threshold)}
    deltas = np.array([sb[t] - sa[t] for t in common])
    n = len(common)
    share = {o: round(sum(1 for r in tasks.values() if r["outcome"] == o) / n, 4) for o in ("win", "tie", "loss")}
    ci = bootstrap_ci(deltas, cfg.tie_threshold, cfg.bootstrap, cfg.seed) if cfg.bootstrap > 0 else None
    return {
        "kind": "compare",
        "a": str(dir_a),
        "b": str(dir_b),
        "a_model": ra.get("model"),
        "b_model": rb.get("model"),
        "eval_kind": ka,
        "metric": metric,
        "tasks": tasks,
        **share,
        "mean_delta": round(float(deltas.mean()), 4),
        "ci95": ci,
        "n_tasks": n,
        "only_in_a": sorted(set(sa) - set(sb)),
        "only_in_b": sorted(set(sb) - set(sa)),
        "bootstrap": {"resamples": cfg.bootstrap, "seed": cfg.seed, "unit": "task", "interval": "percentile"},
        "tie_threshold": cfg.tie_threshold,
    }
