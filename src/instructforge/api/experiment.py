"""The Python API of experiment files: ``run_experiment(file) -> rows``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_experiment(
    file: str | Path, *, out: str | Path | None = None, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run (or resume) every stage of an experiment file; one row per stage (what ran, what
    was skipped as already done, each output). The whole file is checked first."""
    from ..experiment import load, run

    return run(load(file, out), only=only)
