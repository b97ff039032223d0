"""instructforge: Instruction Induction, Self-Instruct and REFINE-AF in one tool.

The Python API (docs/api.md)::

    import instructforge as inf

    run = inf.generate(out="runs/si", model="embedded", config=inf.GenerateConfig(num_instructions=20))
    print(run.summary["accepted"]); ds = run.to_dataset(); run.export("messages", "si.jsonl")
    llm = inf.LLM("embedded"); print(llm.complete(inf.Request.chat("Name three colors.")).text)

Everything is imported lazily: ``import instructforge`` loads no model library. The names come
from the command registry (api/registry.py); the block below only tells type checkers what they are.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .api.registry import public_names

_EXPORTS = public_names()  # name -> module, from the one list of commands (api/registry.py)

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'instructforge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


# For type checkers and IDEs: the registry's names (tests/test_api_names.py checks they agree).
if TYPE_CHECKING:
    from .api.check import check as check
    from .api.data import decontaminate as decontaminate
    from .api.estimate import estimate_generate as estimate_generate
    from .api.evaluate import compare as compare
    from .api.evaluate import evaluate_superni as evaluate_superni
    from .api.evaluate import evaluate_user_oriented as evaluate_user_oriented
    from .api.evaluate import report as report
    from .api.evaluate import score as score
    from .api.induction import dedup as dedup
    from .api.induction import evaluate_induction as evaluate_induction
    from .api.induction import induce as induce
    from .api.induction import induce_as_seeds as induce_as_seeds
    from .api.induction import score_induction as score_induction
    from .api.run import Run as Run
    from .api.run import generate as generate
    from .api.train import finetune as finetune
    from .api.train import refine as refine
    from .api.usage import read_usage as read_usage
    from .core.errors import BudgetExceeded as BudgetExceeded
    from .core.errors import InputError as InputError
    from .data.datasets import dataset_path as dataset_path
    from .data.records import Instance as Instance
    from .data.records import Task as Task
    from .evaluate.compare import CompareConfig as CompareConfig
    from .evaluate.superni import SuperNIConfig as SuperNIConfig
    from .evaluate.user_oriented import UserOrientedConfig as UserOrientedConfig
    from .experiment import run_experiment as run_experiment
    from .feedback.reward import RewardConfig as RewardConfig
    from .induction.evaluate import EvalConfig as EvalConfig
    from .induction.induce import InduceConfig as InduceConfig
    from .induction.search import SearchConfig as SearchConfig
    from .models.client import LLM as LLM
    from .models.client import open_llm as open_llm
    from .models.modelconfig import ModelConfig as ModelConfig
    from .models.types import Completion as Completion
    from .models.types import Request as Request
    from .models.types import SamplingParams as SamplingParams
    from .quality.config import ScoreConfig as ScoreConfig
    from .quality.decontaminate import DecontaminateConfig as DecontaminateConfig
    from .reports.rundata import ReportConfig as ReportConfig
    from .selfinstruct.config import GenerateConfig as GenerateConfig
    from .train.refine_config import RefineConfig as RefineConfig
    from .train.sft import SFTConfig as SFTConfig
