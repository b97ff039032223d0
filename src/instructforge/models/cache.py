"""Per-call cache in front of every backend (SQLite, WAL).

Key = sha256(model identity, request: prompt/messages, sampling params, seed, sample index).
The model identity (``backends.model_identity``: kind, path + file digest or served model,
engine) is the backend's ``model_id``, computed without loading weights, so a fully cached run
never loads a model. A repeated or resumed run never pays for a call twice. Lives in the user cache
dir by default (shared by runs); ``--no-cache`` turns it off. API keys never enter it: the key
is built from the request and the model identity only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from .types import Completion, Request


def cache_key(model_id: str, req: Request) -> str:
    return hashlib.sha256(f"{model_id}\x00{req.key()}".encode()).hexdigest()


class CallCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        # Several processes (training ranks, parallel runs) may create the same new cache at once:
        # switching a new file to WAL takes a lock SQLite does not wait for (busy at once, not
        # after the timeout), so the set-up is retried for a while before giving up.
        for attempt in range(200):
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, completion TEXT)")
                self.db.commit()
                break
            except sqlite3.OperationalError as e:
                if ("locked" not in str(e) and "busy" not in str(e)) or attempt == 199:
                    raise
                time.sleep(0.05 + 0.001 * attempt)

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"SELECT key, completion FROM calls WHERE key IN ({','.join('?' * len(chunk))})"
                for k, c in self.db.execute(q, chunk):
                    found[k] = Completion.from_dict(json.loads(c))
        return found

    def put_many(self, items: Iterable[tuple[str, str, Completion]]) -> None:
        rows = [(k, m, json.dumps(c.to_dict(), ensure_ascii=False)) for k, m, c in items]
        with self._lock:
            self.db.executemany("INSERT OR REPLACE INTO calls VALUES (?, ?, ?)", rows)
            self.db.commit()

    def close(self) -> None:
        with self._lock:
            self.db.close()
