"""Seed-task loading for Self-Instruct (paper section 2.2: the 175-task seed pool).

Accepted formats, detected per file:
- Self-Instruct JSONL: ``{"id", "name", "instruction", "instances": [{"input", "output"}],
  "is_classification"}`` per line;
- plain JSONL: ``{"instruction", "input", "output"}`` per line;
- an Alpaca JSON list: ``[{"instruction", "input", "output"}, ...]``.
Everything is validated before anything is written; a problem is ``FILE:LINE: reason``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..data.records import Instance, Task

PACKAGED_SEEDS = Path(__file__).parent / "data" / "seed_tasks.jsonl"


def _str_field(obj: dict[str, Any], name: str, path: Path, line: int, *, required: bool) -> str:
    if name not in obj:
        if required:
            raise InputError.at(path, line, f'missing "{name}"')
        return ""
    v = obj[name]
    if not isinstance(v, str):
        raise InputError.at(path, line, f'"{name}" must be a string, not {type(v).__name__}')
    return v


def _task(obj: Any, path: Path, line: int, n: int) -> Task:
    if not isinstance(obj, dict):
        raise InputError.at(path, line, f"expected a JSON object, not {type(obj).__name__}")
    instruction = _str_field(obj, "instruction", path, line, required=True).strip()
    if not instruction:
        raise InputError.at(path, line, '"instruction" is empty')
    if "instances" in obj:
        raw = obj["instances"]
        if not isinstance(raw, list):
            raise InputError.at(path, line, '"instances" must be a list')
        instances = []
        for inst in raw:
            if not isinstance(inst, dict):
                raise InputError.at(path, line, "each instance must be an object with input and output")
            instances.append(
                Instance(
                    _str_field(inst, "input", path, line, required=False),
                    _str_field(inst, "output", path, line, required=True),
                )
            )
    else:
        instances = [
            Instance(
                _str_field(obj, "input", path, line, required=False),
                _str_field(obj, "output", path, line, required=True),
            )
        ]
    clf = obj.get("is_classification", False)
    if not isinstance(clf, bool):
        raise InputError.at(path, line, '"is_classification" must be true or false')
    sid = obj.get("id", f"seed_{n}")
    if not isinstance(sid, str | int):
        raise InputError.at(path, line, '"id" must be a string')
    return Task(
        instruction=instruction,
        instances=instances,
        is_classification=clf,
        id=str(sid),
        name=_str_field(obj, "name", path, line, required=False),
    )


def _json_list(text: str, path: Path) -> list[tuple[int, Any]]:
    """Elements of a top-level JSON list with the line each starts on."""
    dec = json.JSONDecoder()
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    items: list[tuple[int, Any]] = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items
        obj, end = dec.raw_decode(text, pos)
        items.append((text.count("\n", 0, pos) + 1, obj))
        pos = end


def load_seeds(path: Path | str) -> list[Task]:
    """Read and validate a seed file; raises InputError (exit 2) on the first problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: seed file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError.at(path, None, f"not UTF-8 text ({e.reason})") from None
    if text.lstrip().startswith("["):
        rows = _json_list(text, path)
    else:
        rows = []
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((line_no, json.loads(line)))
            except json.JSONDecodeError as e:
                raise InputError.at(path, line_no, f"not valid JSON ({e.msg})") from None
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for n, (line_no, obj) in enumerate(rows):
        t = _task(obj, path, line_no, n)
        if t.id in seen:
            raise InputError.at(path, line_no, f"duplicate id {t.id!r} (first on line {seen[t.id]})")
        seen[t.id] = line_no
        tasks.append(t)
    if not tasks:
        raise InputError.at(path, None, "no seed tasks in the file")
    return tasks
