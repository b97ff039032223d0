"""The public Python API: what the CLI commands run, callable from scripts and notebooks.

Every function takes its settings as one config dataclass (the same fields as the command's
flags, ``--set`` and ``--config``; ``instructforge config show COMMAND`` lists them) and the
model as a spec string or a ``ModelConfig`` (plus ModelConfig fields as keyword arguments),
checks everything before writing anything, and writes the resolved config into its output
directory. Names are imported lazily, so ``import instructforge`` stays fast (no torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # Self-Instruct / Alpaca generation
    "generate": "run",
    "Run": "run",
    "model_config": "run",
    # Instruction Induction and the novelty filter
    "induce": "induction",
    "induce_as_seeds": "induction",
    "evaluate_induction": "induction",
    "score_induction": "induction",
    "dedup": "induction",
    # evaluation, comparison, report, scoring
    "evaluate_superni": "evaluate",
    "evaluate_user_oriented": "evaluate",
    "compare": "evaluate",
    "report": "evaluate",
    "score": "evaluate",
    # REFINE-AF RL and SFT
    "refine": "train",
    "finetune": "train",
    # experiments
    "run_experiment": "experiment",
}

__all__ = [
    "Run",
    "compare",
    "dedup",
    "evaluate_induction",
    "evaluate_superni",
    "evaluate_user_oriented",
    "finetune",
    "generate",
    "induce",
    "induce_as_seeds",
    "model_config",
    "refine",
    "report",
    "run_experiment",
    "score",
    "score_induction",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'instructforge.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


if TYPE_CHECKING:  # for type checkers and IDEs: the real names
    from .evaluate import compare, evaluate_superni, evaluate_user_oriented, report, score
    from .experiment import run_experiment
    from .induction import dedup, evaluate_induction, induce, induce_as_seeds, score_induction
    from .run import Run, generate, model_config
    from .train import finetune, refine
