"""instructforge: Instruction Induction, Self-Instruct and REFINE-AF in one tool.

The Python API (docs/api.md)::

    import instructforge as inf

    run = inf.generate(out="runs/si", model="embedded", config=inf.GenerateConfig(num_instructions=20))
    print(run.summary["accepted"]); ds = run.to_dataset(); run.export("messages", "si.jsonl")
    llm = inf.LLM("embedded"); print(llm.complete(inf.Request.chat("Name three colors.")).text)

Everything is imported lazily: ``import instructforge`` loads no model library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # the functions the commands run
    **{
        name: "instructforge.api"
        for name in (
            "generate",
            "Run",
            "induce",
            "induce_as_seeds",
            "evaluate_induction",
            "score_induction",
            "dedup",
            "evaluate_superni",
            "evaluate_user_oriented",
            "compare",
            "report",
            "score",
            "refine",
            "finetune",
            "run_experiment",
        )
    },
    # settings
    "ModelConfig": "instructforge.modelconfig",
    "GenerateConfig": "instructforge.selfinstruct.config",
    "InduceConfig": "instructforge.induction.induce",
    "SearchConfig": "instructforge.induction.search",
    "EvalConfig": "instructforge.induction.evaluate",
    "SuperNIConfig": "instructforge.evaluate.superni",
    "UserOrientedConfig": "instructforge.evaluate.user_oriented",
    "CompareConfig": "instructforge.evaluate.compare",
    "ReportConfig": "instructforge.reports.rundata",
    "ScoreConfig": "instructforge.quality.config",
    "RefineConfig": "instructforge.refine_af.config",
    "RewardConfig": "instructforge.refine_af.reward",
    "SFTConfig": "instructforge.train.sft",
    # direct model calls and records
    "LLM": "instructforge.llm",
    "open_llm": "instructforge.llm",
    "Request": "instructforge.records",
    "SamplingParams": "instructforge.records",
    "Completion": "instructforge.records",
    "Task": "instructforge.records",
    "Instance": "instructforge.records",
    "InputError": "instructforge.errors",
}

__all__ = [
    "__version__",
    "CompareConfig",
    "Completion",
    "EvalConfig",
    "GenerateConfig",
    "InduceConfig",
    "InputError",
    "Instance",
    "LLM",
    "ModelConfig",
    "RefineConfig",
    "ReportConfig",
    "Request",
    "RewardConfig",
    "Run",
    "SFTConfig",
    "SamplingParams",
    "ScoreConfig",
    "SearchConfig",
    "SuperNIConfig",
    "Task",
    "UserOrientedConfig",
    "compare",
    "dedup",
    "evaluate_induction",
    "evaluate_superni",
    "evaluate_user_oriented",
    "finetune",
    "generate",
    "induce",
    "induce_as_seeds",
    "open_llm",
    "refine",
    "report",
    "run_experiment",
    "score",
    "score_induction",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'instructforge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from .api import (
        Run,
        compare,
        dedup,
        evaluate_induction,
        evaluate_superni,
        evaluate_user_oriented,
        finetune,
        generate,
        induce,
        induce_as_seeds,
        refine,
        report,
        run_experiment,
        score,
        score_induction,
    )
    from .errors import InputError
    from .evaluate.compare import CompareConfig
    from .evaluate.superni import SuperNIConfig
    from .evaluate.user_oriented import UserOrientedConfig
    from .induction.evaluate import EvalConfig
    from .induction.induce import InduceConfig
    from .induction.search import SearchConfig
    from .llm import LLM, open_llm
    from .modelconfig import ModelConfig
    from .quality.config import ScoreConfig
    from .records import Completion, Instance, Request, SamplingParams, Task
    from .refine_af.config import RefineConfig
    from .refine_af.reward import RewardConfig
    from .reports.rundata import ReportConfig
    from .selfinstruct.config import GenerateConfig
    from .train.sft import SFTConfig
