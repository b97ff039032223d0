"""The public Python API: what the CLI commands run, callable from scripts and notebooks.

Every function takes its settings as one config dataclass (the same fields as the command's
flags, ``--set`` and ``--config``; ``instructforge config show COMMAND`` lists them) and the
model as a spec string or a ``ModelConfig`` (plus ModelConfig fields as keyword arguments),
checks everything before writing anything, and writes the resolved config into its output
directory. Names are imported lazily, so ``import instructforge`` stays fast (no torch); they
come from the command registry (registry.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .registry import api_names

_EXPORTS = api_names()  # name -> module, from the one list of commands (registry.py)

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'instructforge.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


# For type checkers and IDEs: the registry's names (tests/test_api_names.py checks they agree).
if TYPE_CHECKING:
    from ..experiment import run_experiment as run_experiment
    from .check import check as check
    from .data import decontaminate as decontaminate
    from .estimate import estimate_generate as estimate_generate
    from .evaluate import compare as compare
    from .evaluate import evaluate_superni as evaluate_superni
    from .evaluate import evaluate_user_oriented as evaluate_user_oriented
    from .evaluate import report as report
    from .evaluate import score as score
    from .induction import dedup as dedup
    from .induction import evaluate_induction as evaluate_induction
    from .induction import induce as induce
    from .induction import induce_as_seeds as induce_as_seeds
    from .induction import score_induction as score_induction
    from .run import Run as Run
    from .run import generate as generate
    from .run import model_config as model_config
    from .train import finetune as finetune
    from .train import refine as refine
    from .usage import read_usage as read_usage
