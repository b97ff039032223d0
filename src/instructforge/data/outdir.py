"""What a stage leaves in its output dir: the names of the files it writes, the resolved
``config.yaml`` (written one way by every command, house style 4), and where an export stage's
result is (each stage's result: the registry's ``Command.output``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..core.io import atomic_write

# The files of an output dir (the CLI contract's names; docs/design.md).
CONFIG = "config.yaml"  # the resolved settings, in every output dir
RUN_DB = "run.sqlite"  # a run store (generate, score --data)
SUMMARY = "summary.json"  # generate, score, dedup
RESULTS = "results.json"  # an evaluation (evaluate superni / user-oriented, induction evaluate)
PREDICTIONS = "predictions.jsonl"
RATINGS = "ratings.jsonl"  # evaluate user-oriented
TABLE = "table.md"  # induction evaluate
SCORE_DIR = "score"  # score RUN_DIR: its default --out inside the run dir
SCORES = "scores.jsonl"  # score
KEPT = "kept.jsonl"  # dedup
REJECTED = "rejected.jsonl"
TRAIN_LOG = "train_log.jsonl"  # finetune
TRAIN_SUMMARY = "train_summary.json"
REFINE_SUMMARY = "refine_summary.json"  # refine
REWARD_LOG = "reward_log.jsonl"
REWARD_CURVE = "reward_curve.json"
EXPORT_DATA = "data"  # an export stage's file or dir, its suffix by format (export_output)
COMPARE = "compare.json"  # compare as an experiment stage
REPORT = "report.html"
EXPERIMENT_PLAN = "experiment.yaml"  # an experiment's out dir
EXPERIMENT = "experiment.json"
STAGE_MARKER = ".stage.json"  # in a finished stage's dir
CHECKS = "checks.jsonl"  # check --out
ESTIMATE = "estimate.json"  # generate --estimate
CONTAMINATION = "contamination.jsonl"  # decontaminate
DECONTAMINATE_DIR = "decontaminate"  # decontaminate RUN_DIR: its default --out inside the run dir
# the usage ledger of an out dir that is not a run store: models/usage.py (USAGE_FILE, a rank's file)
# next to a file, its name with this suffix: induce --as-seeds FILE's ledger and settings, the
# counts of a curated export (si.json -> si.curation.json)
SEEDS_USAGE_SUFFIX = ".usage.json"
SEEDS_CONFIG_SUFFIX = ".config.yaml"
CURATION_SUFFIX = ".curation.json"


def config_text(config: dict[str, Any], command: str | None = None) -> str:
    """``config`` as YAML; with ``command``: nested in its command sections under a header, so the
    file can be given back as ``--config``."""
    if command is None:
        return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    data = config
    for part in reversed(command.split()):
        data = {part: data}
    head = f"# instructforge {command}: the resolved settings (reuse with --config this file)\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_config(path: Path, config: dict[str, Any], command: str | None = None) -> None:
    """Write ``config_text`` to ``path`` (an output dir's ``CONFIG``), atomically. No secrets in it."""
    atomic_write(path, config_text(config, command))


def read_config(path: Path) -> dict[str, Any]:
    """A config written by ``write_config`` ({} when there is none)."""
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def export_output(out: Path, inputs: Mapping[str, Any]) -> Path:
    """Where an ``export`` stage writes in its dir ``out``: data.json (alpaca), data.jsonl
    (messages, prompt-completion) or the data/ directory (hf)."""
    fmt = inputs.get("format", "alpaca")
    return out / (EXPORT_DATA + {"alpaca": ".json", "hf": ""}.get(fmt, ".jsonl"))
