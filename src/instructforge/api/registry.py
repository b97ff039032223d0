"""The one list of commands. Each entry names a command as the CLI spells it, its one-line help,
the click command that shells it (top-level commands), the API function it runs, its settings
class, and, for a command an experiment file can run as a stage, the stage's inputs (and which
of them are values, not paths), whether it calls a model, the function that runs it as a stage
and where its result is in its output dir.

Read by: the CLI's command table and help (``cli/main.py``), the stage kinds of experiment files
(``experiment.py``), and the public names of ``instructforge`` and ``instructforge.api`` (their
lazy exports). Adding a command is one entry here plus its modules. Every reference is a
``module:name`` string, imported when used, so reading the registry imports nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Command:
    name: str  # as typed on the command line: "generate", "evaluate superni"
    help: str = ""  # one line in `instructforge --help` (top-level commands)
    cli: str | None = None  # "module:attr" of the click command (top-level commands and groups)
    function: str | None = None  # "module:name" of the API function (a public name)
    config: str | None = None  # "module:Name" of its settings dataclass (a public name)
    inputs: Mapping[str, bool] | None = None  # experiment stage: input key -> required; None: not a stage
    uses_model: bool = False  # the stage gets a ModelConfig
    stage: str | None = None  # "module:name" running it as a stage: (out, [model], [config], **inputs) -> output path
    value_inputs: frozenset[str] = frozenset()  # stage inputs that are plain values, not paths
    # "module:name" of the stage's result in its output dir: a file name, or a function
    # (out dir, inputs) -> path; None: the output dir itself
    output: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # other public names of its area: name -> module


_CLI = "instructforge.cli"
_API = "instructforge.api"
_OUTDIR = "instructforge.data.outdir"

COMMANDS: tuple[Command, ...] = (
    Command("ask", "Print one completion (check that a backend works).", cli=f"{_CLI}.ask:ask"),
    Command(
        "generate",
        "Self-Instruct / REFINE-AF data generation into a resumable run dir.",
        cli=f"{_CLI}.generate:generate",
        function=f"{_API}.run:generate",
        config="instructforge.selfinstruct.config:GenerateConfig",
        inputs={"seeds": False, "from_run": False},
        uses_model=True,
        stage=f"{_API}.run:generate_stage",
        extra={"Run": f"{_API}.run", "estimate_generate": f"{_API}.estimate"},
    ),
    Command(
        "export",
        "Export a run as alpaca, messages, prompt-completion or an HF dataset.",
        cli=f"{_CLI}.generate:export",
        inputs={"run": True, "format": False, "include_seeds": False},
        stage=f"{_API}.run:export_stage",
        value_inputs=frozenset({"format", "include_seeds"}),
        output=f"{_OUTDIR}:export_output",
    ),
    Command(
        "dedup",
        "The ROUGE-L novelty filter alone, over a JSONL file.",
        cli=f"{_CLI}.dedup:dedup",
        function=f"{_API}.induction:dedup",
    ),
    Command(
        "induce",
        "Induce the instruction behind input-output demonstrations.",
        cli=f"{_CLI}.induction:induce",
        function=f"{_API}.induction:induce",
        config="instructforge.induction.induce:InduceConfig",
        extra={"induce_as_seeds": f"{_API}.induction", "SearchConfig": "instructforge.induction.search"},
    ),
    Command(
        "induction",
        "Instruction Induction benchmark: evaluate and score.",
        cli=f"{_CLI}.induction:induction",
    ),
    Command(
        "induction evaluate",
        function=f"{_API}.induction:evaluate_induction",
        config="instructforge.induction.evaluate:EvalConfig",
    ),
    Command("induction score", function=f"{_API}.induction:score_induction"),
    Command(
        "refine",
        "REFINE-AF RL stage: train the instance writer on automated feedback.",
        cli=f"{_CLI}.refine:refine",
        function=f"{_API}.train:refine",
        config="instructforge.train.refine_config:RefineConfig",
        inputs={"run": True},
        uses_model=True,
        stage=f"{_API}.train:refine_stage",
        extra={"RewardConfig": "instructforge.feedback.reward"},
    ),
    Command(
        "finetune",
        "Supervised fine-tuning (TRL SFT + LoRA) on exported data.",
        cli=f"{_CLI}.finetune:finetune",
        function=f"{_API}.train:finetune",
        config="instructforge.train.sft:SFTConfig",
        inputs={"data": True},
        uses_model=True,
        stage=f"{_API}.train:finetune_stage",
    ),
    Command(
        "evaluate",
        "Evaluate a model: SuperNI, user-oriented instructions.",
        cli=f"{_CLI}.evaluate:evaluate",
    ),
    Command(
        "evaluate superni",
        function=f"{_API}.evaluate:evaluate_superni",
        config="instructforge.evaluate.superni:SuperNIConfig",
        inputs={"tasks": True, "predictions": False},
        uses_model=True,
        stage=f"{_API}.evaluate:superni_stage",
    ),
    Command(
        "evaluate user-oriented",
        function=f"{_API}.evaluate:evaluate_user_oriented",
        config="instructforge.evaluate.user_oriented:UserOrientedConfig",
        inputs={"data": True},
        uses_model=True,
        stage=f"{_API}.evaluate:user_oriented_stage",
    ),
    Command(
        "compare",
        "Per-task comparison of two evaluation dirs (win/tie/loss).",
        cli=f"{_CLI}.evaluate:compare",
        function=f"{_API}.evaluate:compare",
        config="instructforge.evaluate.compare:CompareConfig",
        inputs={"a": True, "b": True},
        stage=f"{_API}.evaluate:compare_stage",
        output=f"{_OUTDIR}:COMPARE",
    ),
    Command(
        "report",
        "Self-contained HTML report of a run or an evaluation dir.",
        cli=f"{_CLI}.report:report",
        function=f"{_API}.evaluate:report",
        config="instructforge.reports.rundata:ReportConfig",
        inputs={"path": False},
        stage=f"{_API}.evaluate:report_stage",
        output=f"{_OUTDIR}:REPORT",
    ),
    Command(
        "score",
        "Score, audit and check every record of a run or data file (automated feedback).",
        cli=f"{_CLI}.score:score",
        function=f"{_API}.evaluate:score",
        config="instructforge.quality.config:ScoreConfig",
    ),
    Command(
        "check",
        "The validity checks alone (no model) over a data file or a run: junk flagged by reason.",
        cli=f"{_CLI}.check:check",
        function=f"{_API}.check:check",
    ),
    Command(
        "experiment",
        "Run a declared chain of stages from a YAML file (resumable, finished stages skipped).",
        cli=f"{_CLI}.experiment:experiment",
        function="instructforge.experiment:run_experiment",
    ),
    Command(
        "usage",
        "Tokens, cache hits and cost of a run, an out dir or an experiment (the usage ledger).",
        cli=f"{_CLI}.usage:usage",
        function=f"{_API}.usage:read_usage",
    ),
    Command(
        "data",
        "The papers' seeds and benchmarks by name: list, get (fetch + verify), path, verify.",
        cli=f"{_CLI}.data:data",
        extra={"dataset_path": "instructforge.data.datasets"},
    ),
    Command(
        "decontaminate",
        "Flag records that overlap a benchmark (word 13-grams, ROUGE-L >= 0.7 instructions).",
        cli=f"{_CLI}.decontaminate:decontaminate",
        function=f"{_API}.data:decontaminate",
        config="instructforge.quality.decontaminate:DecontaminateConfig",
    ),
    Command("config", "Every setting of a command, with its default and help.", cli=f"{_CLI}.show:config"),
)

# Public names that belong to no one command: the model settings, direct model calls, records.
SHARED_NAMES: dict[str, str] = {
    "ModelConfig": "instructforge.models.modelconfig",
    "LLM": "instructforge.models.client",
    "open_llm": "instructforge.models.client",
    "Request": "instructforge.models.types",
    "SamplingParams": "instructforge.models.types",
    "Completion": "instructforge.models.types",
    "Task": "instructforge.data.records",
    "Instance": "instructforge.data.records",
    "InputError": "instructforge.core.errors",
    "BudgetExceeded": "instructforge.core.errors",
}

# Names of ``instructforge.api`` only (helpers of the API, not at the package top level).
API_ONLY_NAMES: dict[str, str] = {"model_config": f"{_API}.run"}


def by_name() -> dict[str, Command]:
    return {c.name: c for c in COMMANDS}


def cli_commands() -> dict[str, tuple[str, str]]:
    """The top-level CLI commands in order: name -> (module, attr) of the click command."""
    out = {}
    for c in COMMANDS:
        if c.cli is not None:
            module, attr = c.cli.split(":")
            out[c.name] = (module, attr)
    return out


def stages() -> dict[str, Command]:
    """The commands an experiment file can run, in order."""
    return {c.name: c for c in COMMANDS if c.inputs is not None}


def stage_output(command: str, out: Path, inputs: Mapping[str, Any]) -> Path:
    """Where stage ``command``'s result will be in its output dir ``out`` (its ``output``),
    known before it runs, so later stages can refer to it."""
    ref = by_name()[command].output
    if ref is None:
        return out
    where = load(ref)
    return Path(where(out, inputs)) if callable(where) else out / str(where)


def public_names() -> dict[str, str]:
    """Every public name of ``instructforge`` -> the module that defines it."""
    out: dict[str, str] = {}
    for c in COMMANDS:
        for ref in (c.function, c.config):
            if ref is not None:
                module, name = ref.split(":")
                out[name] = module
        out.update(c.extra)
    out.update(SHARED_NAMES)
    return out


def api_names() -> dict[str, str]:
    """Every name of ``instructforge.api`` -> its module (the API functions, ``Run`` ...)."""
    out = {n: m for n, m in public_names().items() if m.startswith(_API + ".") or n == "run_experiment"}
    out.update(API_ONLY_NAMES)
    return out


def load(ref: str) -> object:
    """The object a ``module:name`` reference names (imported now)."""
    import importlib

    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)
