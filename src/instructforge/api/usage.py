"""Where each command keeps its usage ledger (models/usage.py), and reading it back:
``instructforge usage PATH`` and ``read_usage(path)`` (reports/ledgers.py, re-exported here).

- A run store (generate, score): the ledger is in ``run.sqlite`` (meta ``usage``), committed
  with the records, so it survives a kill and a resume adds to it.
- Any other out dir (evaluate superni / user-oriented, induction evaluate, refine): ``usage.json``
  in that dir (the same content). ``induce --as-seeds FILE``: ``FILE`` with ``.usage.json``.
  ``refine`` in several processes: rank 0 writes ``usage.json``, rank r ``usage.rank{r}.json``;
  the dir's ledger is their sum.
- An experiment dir: every stage dir's ledger, stage names prefixed with the stage's name
  (``si/generate:bootstrap``), summed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.usage import USAGE_FILE, FileSink, StoreSink, dir_ledger, format_cost, other_ranks, rank_file, track

__all__ = [
    "USAGE_FILE",
    "dir_ledger",
    "file_sink",
    "format_cost",
    "other_ranks",
    "rank_sink",
    "read_usage",
    "store_sink",
    "track",
]


def read_usage(path: str | Path) -> dict[str, Any]:
    """The ledger of a run dir, an out dir, a ``usage.json`` file or an experiment dir:
    ``{"total", "stages", "models", "rows", "series", "stops", "currency", "path"}``
    (reports/ledgers.py, imported when asked: the reports package loads plotly)."""
    from ..reports.ledgers import read_usage as read

    return read(path)


def store_sink(store: Any) -> StoreSink:
    return StoreSink(store)


def file_sink(out_dir: Path | str) -> FileSink:
    return FileSink(Path(out_dir) / USAGE_FILE)


def rank_sink(out_dir: Path | str, rank: int) -> FileSink:
    """Rank ``rank``'s ledger file (rank 0: ``usage.json``; reports/ledgers.py reads them all)."""
    return FileSink(rank_file(out_dir, rank))
