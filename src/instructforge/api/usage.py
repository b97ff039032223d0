"""Where each command keeps its usage ledger (models/usage.py), and reading it back:
``instructforge usage PATH`` and ``read_usage(path)``.

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

from ..core.errors import InputError
from ..models.usage import FileSink, StoreSink, Usage, format_cost, merge, summarize, track

__all__ = ["USAGE_FILE", "file_sink", "format_cost", "rank_sink", "read_usage", "store_sink", "track"]

USAGE_FILE = "usage.json"
RANK_FILES = "usage.rank*.json"


def rank_file(out_dir: Path | str, rank: int) -> Path:
    """Rank ``rank``'s ledger file in ``out_dir``: ``usage.json`` for rank 0, else ``usage.rank{r}.json``."""
    return Path(out_dir) / (USAGE_FILE if rank == 0 else f"usage.rank{rank}.json")


def rank_sink(out_dir: Path | str, rank: int) -> FileSink:
    return FileSink(rank_file(out_dir, rank))


def other_ranks(out_dir: Path | str, rank: int) -> list[dict[str, Any]]:
    """The ledgers the other ranks' processes saved in ``out_dir`` (earlier runs included)."""
    files = [Path(out_dir) / USAGE_FILE, *sorted(Path(out_dir).glob(RANK_FILES))]
    return [FileSink(f).load() for f in files if f.is_file() and f != rank_file(out_dir, rank)]


def dir_ledger(path: Path | str) -> dict[str, Any]:
    """An out dir's saved ledger: ``usage.json`` plus every rank's ``usage.rank{r}.json``
    (several processes of one command), summed; ``{}`` without one."""
    path = Path(path)
    files = [path / USAGE_FILE, *sorted(path.glob(RANK_FILES))]
    return merge([d for d in (FileSink(f).load() for f in files if f.is_file()) if d])


def store_sink(store: Any) -> StoreSink:
    return StoreSink(store)


def file_sink(out_dir: Path | str) -> FileSink:
    return FileSink(Path(out_dir) / USAGE_FILE)


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
