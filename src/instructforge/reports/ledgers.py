"""Reading saved usage ledgers back (models/usage.py writes them): a run store's, an out dir's
``usage.json`` (plus the ranks' ``usage.rank{r}.json`` of a command run in several processes), a
``usage.json`` file, or an experiment dir's stage dirs. Here, below api/, so that the reports
read ledgers the way ``instructforge usage`` does (api/usage.py's ``read_usage`` calls it); the
ledger files themselves are models/usage.py's (``dir_ledger``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..models.usage import USAGE_FILE, FileSink, StoreSink, Usage, dir_ledger, summarize


def _ledger_data(path: Path) -> dict[str, Any] | None:
    """The saved ledger of one dir (a run store or a usage.json), or None. A run store killed
    before its first commit has an empty one: nothing recorded, so nothing spent that the store
    knows of (answers already paid for come back from the call cache)."""
    store = (path / "run.sqlite").is_file()
    if store:
        from ..data.store import RunStore

        with RunStore(path, create=False) as st:
            data = StoreSink(st).load()
        if data:
            return data
    data = dir_ledger(path)
    if data:
        return data
    return {} if store else None


def read_usage(path: str | Path) -> dict[str, Any]:
    """The ledger of a run dir, an out dir, a ``usage.json`` file or an experiment dir:
    ``{"total", "stages", "models", "rows", "series", "stops", "currency", "path"}``."""
    path = Path(path)
    if path.is_file():
        data: dict[str, Any] | None = FileSink(path).load()
        parts = [("", data)] if data else []
    elif path.is_dir():
        own = _ledger_data(path)
        parts = [("", own)] if own is not None else []
        if not parts:  # an experiment: its stage dirs
            for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                d = _ledger_data(sub)
                if d:
                    parts.append((sub.name + "/", d))
    else:
        raise InputError(f"{path}: no such file or directory")
    if not parts:
        raise InputError(f"{path}: no usage ledger here (run.sqlite with usage, {USAGE_FILE}, or stage dirs with one)")
    currencies = {d.get("currency", "USD") for _, d in parts}
    merged: dict[str, Any] = {"rows": [], "series": [], "stops": [], "currency": sorted(currencies)[0]}
    for prefix, d in parts:
        s = summarize(d, prefix)
        merged["rows"] += s["rows"]
        merged["series"] += s["series"]
        merged["stops"] += s["stops"]
    out = _totals(merged["rows"])
    out.update(
        currency=merged["currency"] if len(currencies) == 1 else "mixed",
        rows=merged["rows"],
        series=sorted(merged["series"], key=lambda p: p.get("time", 0)),
        stops=merged["stops"],
        path=str(path),
    )
    return out


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    stages: dict[str, Usage] = {}
    models: dict[str, Usage] = {}
    total = Usage()
    for r in rows:
        u = Usage.from_dict(r)
        stages.setdefault(r["stage"], Usage()).add(u)
        models.setdefault(r["model"], Usage()).add(u)
        total.add(u)
    return {
        "total": total.as_dict(),
        "stages": {k: v.as_dict() for k, v in stages.items()},
        "models": {k: v.as_dict() for k, v in models.items()},
    }
