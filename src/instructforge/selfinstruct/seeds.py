"""Seed-task loading for Self-Instruct (paper section 2.2: the 175-task seed pool).

Accepted formats, detected per file:
- Self-Instruct JSONL: ``{"id", "name", "instruction", "instances": [{"input", "output"}],
  "is_classification"}`` per line;
- plain JSONL: ``{"instruction", "input", "output"}`` per line;
- an Alpaca JSON list: ``[{"instruction", "input", "output"}, ...]``.
Everything is validated before anything is written; a problem is ``FILE:LINE: reason``.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError
from ..data.formats import read_tasks
from ..data.records import Task

PACKAGED_SEEDS = Path(__file__).parent / "data" / "seed_tasks.jsonl"


def load_seeds(path: Path | str) -> list[Task]:
    """Read and validate a seed file (``data.formats.read_tasks``); raises InputError (exit 2) on the
    first problem."""
    path = Path(path)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for line_no, t in read_tasks(path):
        if t.id in seen:
            raise InputError.at(path, line_no, f"duplicate id {t.id!r} (first on line {seen[t.id]})")
        seen[t.id] = line_no
        tasks.append(t)
    if not tasks:
        raise InputError.at(path, None, "no seed tasks in the file")
    return tasks
