"""Instruction data from outside a run, for ``instructforge score --data FILE``.

The file is read by ``data.formats.read_triples``: an Alpaca JSON list, Alpaca JSONL or messages
JSONL (what ``export --format messages`` writes; the instruction is the last user message before
the final assistant message, the output that message, the input empty). Everything is read and
checked before anything is written; a problem is one line ``FILE:LINE: reason`` (exit 2). The records go into a run store as accepted one-instance tasks,
so scoring, ``export`` with filters and ``report`` work on them as on a generated run
(Self-Instruct's step-5 data format, Wang et al. 2023, section 2.2).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..core.errors import InputError
from ..data.outdir import RUN_DB
from ..data.records import Instance, Triple
from ..data.runrecords import TaskRecord
from ..data.store import RunStore

SOURCE_META = "score_source"

Lined = tuple[int, Triple]  # a record of the file: the line it starts on, its triple


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_key(n: int) -> str:
    """Task key of the n-th record (1-based) of the file."""
    return f"d{n:07d}"


def check_out_dir(out: Path, path: Path) -> None:
    """An --out that already holds a store must hold this same file's records (to resume)."""
    if not (out / RUN_DB).is_file():
        return
    with RunStore(out, create=False) as store:
        src = store.get_meta(SOURCE_META)
    if not src:
        raise InputError(f"{out}: already a run dir not made by `score --data`; choose a new --out")
    if src.get("sha256") != file_sha(path):
        raise InputError(f"{out}: holds the scores of another file ({src.get('path')}); choose a new --out")


def import_data(store: RunStore, path: Path, fmt: str, recs: list[Lined]) -> int:
    """Put every record in the store as an accepted one-instance task (in one transaction);
    records already there are left alone. Returns how many were new."""
    with store.transaction():
        new = sum(
            store.put(
                TaskRecord(
                    key=record_key(n), instruction=t.instruction, accepted=True, instances=[Instance(t.input, t.output)]
                )
            )
            for n, (_, t) in enumerate(recs, 1)
        )
        store.set_meta(
            SOURCE_META,
            {
                "path": str(path),
                "sha256": file_sha(path),
                "format": fmt,
                "records": len(recs),
                "lines": [line for line, _ in recs],
            },
        )
        store.set_meta("stage", "imported")
    return new
