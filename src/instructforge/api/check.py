"""The Python API of ``instructforge check``: the validity checks alone, no model::

from instructforge.api.check import check

s = check("data.jsonl", out="checked")   # checked/checks.jsonl, one line per record
s["by_reason"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import atomic_write
from ..data import outdir
from ..data.outdir import CHECKS as CHECKS  # re-exported for cli/

__all__ = ["check"]


def check(path: str | Path, *, out: str | Path | None = None) -> dict[str, Any]:
    """Run every validity check (data/checks.py) on the records of an Alpaca JSON/JSONL or
    messages JSONL file, or on the accepted instances of a run dir. With ``out``, writes
    ``out/checks.jsonl``: ``{"index", "ok", "reasons"}`` per record, in input order (index
    0-based). Returns ``{"records", "ok", "flagged", "by_reason"}``. Bad input raises InputError
    before anything is written."""
    from ..quality.validity import check_records, read_records, seed_pool, summarize

    path = Path(path)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    _, records = read_records(path)
    pool, grow = seed_pool(path)
    results = check_records(records, pool=pool, grow_pool=grow)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        lines = (json.dumps({k: r[k] for k in ("index", "ok", "reasons")}, ensure_ascii=False) for r in results)
        atomic_write(out / outdir.CHECKS, "".join(line + "\n" for line in lines))
    return summarize(results)
