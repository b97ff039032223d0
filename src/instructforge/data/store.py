"""The run store: a run directory with ``run.sqlite`` (WAL), ``config.yaml`` and ``exports/``.

Every record is committed the moment it is accepted or rejected, so a SIGKILL at any point
loses nothing committed; rerunning the same command resumes from what the store holds.
Records are JSON payloads grouped by ``kind`` (e.g. "candidate", "instruction", "instance")
with a unique ``key`` per kind, so writing the same record twice is a no-op, never a duplicate.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import sweep_temp_files
from .outdir import CONFIG, RUN_DB, read_config, write_config
from .records import Task
from .runrecords import Candidate, InstanceRejection, RunRecord, ScoreRecord, TaskRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    UNIQUE(kind, key)
);
CREATE INDEX IF NOT EXISTS records_kind_status ON records(kind, status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class RunStore:
    def __init__(self, run_dir: Path | str, *, create: bool = True):
        self.dir = Path(run_dir)
        db_path = self.dir / RUN_DB
        if not create and not db_path.is_file():
            raise InputError(f"{self.dir}: not a run directory (no run.sqlite)")
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "exports").mkdir(exist_ok=True)
        sweep_temp_files(self.dir)
        self.db = sqlite3.connect(str(db_path), timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._in_tx = False

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[RunStore]:
        """Group several writes into one atomic commit."""
        if self._in_tx:
            yield self
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield self
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        finally:
            self._in_tx = False

    def add(self, kind: str, key: str, payload: dict[str, Any], status: str = "") -> bool:
        """Insert a record; returns False (and changes nothing) if (kind, key) exists."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO records(kind, key, status, payload) VALUES (?, ?, ?, ?)",
            (kind, key, status, json.dumps(payload, ensure_ascii=False)),
        )
        return cur.rowcount == 1

    def update(self, kind: str, key: str, payload: dict[str, Any], status: str | None = None) -> None:
        if status is None:
            self.db.execute(
                "UPDATE records SET payload=? WHERE kind=? AND key=?",
                (json.dumps(payload, ensure_ascii=False), kind, key),
            )
        else:
            self.db.execute(
                "UPDATE records SET payload=?, status=? WHERE kind=? AND key=?",
                (json.dumps(payload, ensure_ascii=False), status, kind, key),
            )

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- reading -----------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT payload FROM records WHERE kind=? AND key=?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, kind: str, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM records WHERE kind=? AND key=?", (kind, key)).fetchone() is not None

    def iter(self, kind: str, status: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(key, status, payload) in insertion order."""
        if status is None:
            cur = self.db.execute("SELECT key, status, payload FROM records WHERE kind=? ORDER BY seq", (kind,))
        else:
            cur = self.db.execute(
                "SELECT key, status, payload FROM records WHERE kind=? AND status=? ORDER BY seq", (kind, status)
            )
        for k, s, p in cur.fetchall():
            yield k, s, json.loads(p)

    def count(self, kind: str, status: str | None = None) -> int:
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM records WHERE kind=?", (kind,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM records WHERE kind=? AND status=?", (kind, status)).fetchone()[0]

    def counts_by_status(self, kind: str) -> dict[str, int]:
        return dict(
            self.db.execute("SELECT status, COUNT(*) FROM records WHERE kind=? GROUP BY status", (kind,)).fetchall()
        )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- typed records (runrecords.py) ----------------------------------------------------------
    def put(self, rec: RunRecord) -> bool:
        """Insert a typed record; False (and nothing changed) if its key exists."""
        return self.add(rec.kind, rec.key, rec.payload(), rec.status)

    def replace(self, rec: RunRecord) -> None:
        """Overwrite a stored record with this one (same kind and key)."""
        self.update(rec.kind, rec.key, rec.payload(), rec.status)

    def _rows(self, kind: str, accepted: bool | None) -> list[tuple[str, str, dict[str, Any]]]:
        """Rows in key order: keys follow the bootstrap's prompt order, so every reader sees
        the same order whatever order the records were committed in."""
        q = "SELECT key, status, payload FROM records WHERE kind=?"
        args: tuple[Any, ...] = (kind,)
        if accepted is not None:
            q += " AND status=?"
            args += ("accepted" if accepted else "rejected",)
        return [(k, s, json.loads(p)) for k, s, p in self.db.execute(q + " ORDER BY key", args).fetchall()]

    def candidates(self, accepted: bool | None = None) -> list[Candidate]:
        return [Candidate.from_row(*r) for r in self._rows(Candidate.kind, accepted)]

    def tasks(self, accepted: bool | None = None) -> list[TaskRecord]:
        return [TaskRecord.from_row(*r) for r in self._rows(TaskRecord.kind, accepted)]

    def task_keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM records WHERE kind=?", (TaskRecord.kind,))}

    def instance_rejections(self) -> list[InstanceRejection]:
        return [InstanceRejection.from_row(*r) for r in self._rows(InstanceRejection.kind, None)]

    def seeds(self) -> list[Task]:
        """The run's seed tasks, in the order they were stored."""
        return [Task.from_dict(p) for _, _, p in self.iter("seed")]

    def add_seed(self, task: Task) -> bool:
        return self.add("seed", task.id, task.to_dict(), "seed")

    def scores(self) -> list[ScoreRecord]:
        """Every ``score`` record (instructforge score), in key order."""
        return [ScoreRecord.from_row(*r) for r in self._rows(ScoreRecord.kind, None)]

    def write_scores(self, recs: list[ScoreRecord]) -> None:
        """Insert or overwrite these score records in one transaction (one chunk of scoring)."""
        with self.transaction():
            for rec in recs:
                if not self.add(rec.kind, rec.key, rec.payload(), rec.status):
                    self.update(rec.kind, rec.key, rec.payload(), rec.status)

    # -- config --------------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        """Write the resolved config.yaml (atomically). Secrets must not be in ``config``."""
        write_config(self.dir / CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        return read_config(self.dir / CONFIG)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
