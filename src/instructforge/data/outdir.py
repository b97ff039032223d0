"""What a stage leaves in its output dir: where its result is, known before it runs (an experiment's
later stages refer to it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def stage_output(command: str, out: Path, inputs: dict[str, Any]) -> Path:
    """Where a stage's output will be (known before it runs, so later stages can refer to it)."""
    if command == "export":
        fmt = inputs.get("format", "alpaca")
        return out / ("data" + {"alpaca": ".json", "hf": ""}.get(fmt, ".jsonl"))
    if command == "compare":
        return out / "compare.json"
    if command == "report":
        return out / "report.html"
    return out
