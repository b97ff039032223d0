"""Instruction data from outside a run, for ``instructforge score --data FILE``.

Formats, detected per file: an Alpaca JSON list ``[{"instruction", "input", "output"}, ...]``,
Alpaca JSONL (one such object per line), or messages JSONL ``{"messages": [{"role": "user", ...},
{"role": "assistant", ...}]}`` (what ``export --format messages`` writes; the instruction is the
last user message before the final assistant message, the output that message, the input
empty). Everything is read and checked before anything is written; a problem is one line
``FILE:LINE: reason`` (exit 2). The records go into a run store as accepted one-instance tasks,
so scoring, ``export`` with filters and ``report`` work on them as on a generated run
(Self-Instruct's step-5 data format, Wang et al. 2023, section 2.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import iter_jsonl, read_text
from ..data.records import Instance
from ..data.runrecords import TaskRecord
from ..data.store import RunStore
from ..selfinstruct.seeds import _json_list, _str_field

SOURCE_META = "score_source"


@dataclass(slots=True)
class DataRecord:
    line: int  # where the record starts in the file
    instruction: str
    input: str
    output: str


def _alpaca(obj: Any, path: Path, line: int) -> DataRecord:
    if not isinstance(obj, dict):
        raise InputError.at(path, line, f"expected a JSON object, not {type(obj).__name__}")
    return DataRecord(
        line,
        _str_field(obj, "instruction", path, line, required=True),
        _str_field(obj, "input", path, line, required=False) if obj.get("input") is not None else "",
        _str_field(obj, "output", path, line, required=True),
    )


def _messages(obj: dict[str, Any], path: Path, line: int) -> DataRecord:
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in msgs
    ):
        raise InputError.at(path, line, '"messages" must be a list of {"role", "content"} strings')
    if not msgs or msgs[-1]["role"] != "assistant":
        raise InputError.at(path, line, "the last message must be the assistant's answer")
    users = [m["content"] for m in msgs[:-1] if m["role"] == "user"]
    if not users:
        raise InputError.at(path, line, "no user message before the assistant's answer")
    return DataRecord(line, users[-1], "", msgs[-1]["content"])


def read_data(path: Path) -> tuple[str, list[DataRecord]]:
    """(format, records) of an Alpaca JSON list, Alpaca JSONL or messages JSONL file."""
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    text = read_text(path)
    if text.lstrip().startswith("["):
        fmt, recs = "alpaca", [_alpaca(obj, path, line) for line, obj in _json_list(text, path)]
    else:
        fmt, recs = "", []
        for line, obj in iter_jsonl(path, text):
            kind = "messages" if isinstance(obj, dict) and "messages" in obj else "alpaca-jsonl"
            if fmt and kind != fmt:
                raise InputError.at(path, line, f"a {kind} record in a file of {fmt} records")
            fmt = kind
            recs.append(_messages(obj, path, line) if kind == "messages" else _alpaca(obj, path, line))
    if not recs:
        raise InputError.at(path, None, "no records in the file")
    return fmt, recs


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_key(n: int) -> str:
    """Task key of the n-th record (1-based) of the file."""
    return f"d{n:07d}"


def check_out_dir(out: Path, path: Path) -> None:
    """An --out that already holds a store must hold this same file's records (to resume)."""
    if not (out / "run.sqlite").is_file():
        return
    with RunStore(out, create=False) as store:
        src = store.get_meta(SOURCE_META)
    if not src:
        raise InputError(f"{out}: already a run dir not made by `score --data`; choose a new --out")
    if src.get("sha256") != file_sha(path):
        raise InputError(f"{out}: holds the scores of another file ({src.get('path')}); choose a new --out")


def import_data(store: RunStore, path: Path, fmt: str, recs: list[DataRecord]) -> int:
    """Put every record in the store as an accepted one-instance task (in one transaction);
    records already there are left alone. Returns how many were new."""
    with store.transaction():
        new = sum(
            store.put(
                TaskRecord(
                    key=record_key(n), instruction=r.instruction, accepted=True, instances=[Instance(r.input, r.output)]
                )
            )
            for n, r in enumerate(recs, 1)
        )
        store.set_meta(
            SOURCE_META,
            {
                "path": str(path),
                "sha256": file_sha(path),
                "format": fmt,
                "records": len(recs),
                "lines": [r.line for r in recs],
            },
        )
        store.set_meta("stage", "imported")
    return new
