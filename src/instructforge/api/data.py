"""The Python API of the named datasets and decontamination.

``instructforge decontaminate`` is a thin shell over ``decontaminate``; dataset names resolve
through ``instructforge.data.datasets`` (``instructforge.dataset_path("superni-test")``)::

    from instructforge.api.data import decontaminate

    s = decontaminate("runs/si", against=["superni-test", "user-oriented"], out="runs/si/decontaminate")
    s["flagged"], s["by_benchmark"]
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import atomic_write, write_json
from ..core.settings import as_dict
from ..quality.decontaminate import CONTAMINATION_META, DecontaminateConfig
from .induction import config_yaml

__all__ = ["decontaminate"]


def decontaminate(
    run_dir: str | Path | None = None,
    *,
    data: str | Path | None = None,
    against: Sequence[str | Path],
    out: str | Path | None = None,
    config: DecontaminateConfig | None = None,
) -> dict[str, Any]:
    """Flag the records of the run ``run_dir`` (its export records, without seeds) or of the data
    file ``data`` (Alpaca JSON list / JSONL, messages JSONL, or a dataset name) that overlap a
    benchmark of ``against`` (dataset names, or the files/folders they hold): a shared word
    13-gram, or ROUGE-L >= 0.7 of the instruction with a benchmark instruction. Writes
    ``out/contamination.jsonl`` (one line per flagged record and benchmark), ``summary.json`` and
    ``config.yaml`` (``out`` defaults to ``RUN_DIR/decontaminate``; required with ``data``), and
    for a run records the file in the run store, for ``export --drop-contaminated``. Returns the
    summary ``{records, flagged, by_benchmark, ...}``."""
    from ..data.datasets import resolve
    from ..quality.decontaminate import decontaminate as find
    from ..quality.decontaminate import load_benchmark

    cfg = config or DecontaminateConfig()
    if (run_dir is None) == (data is None):
        raise InputError("decontaminate: give a run directory or data=FILE (one of them)")
    if not against:
        raise InputError("decontaminate: give at least one benchmark (--against NAME_OR_PATH)")
    if data is not None and out is None:
        raise InputError("decontaminate: data=FILE needs out=DIR")
    # every input read and checked (names fetched) before anything is written
    records, keys = _records(run_dir, data)
    benchmarks = [load_benchmark(str(a), resolve(a)) for a in against]
    t0 = time.perf_counter()
    hits = find(records, benchmarks, cfg)
    seconds = time.perf_counter() - t0
    target = Path(out) if out is not None else Path(run_dir or ".") / "decontaminate"
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory")
    by = Counter(h.benchmark for h in hits)
    summary = {
        "records": len(records),
        "flagged": len({h.index for h in hits}),
        "by_benchmark": {str(a): by.get(str(a), 0) for a in against},
        "by_kind": dict(Counter(h.kind for h in hits)),
        "input": str(run_dir if run_dir is not None else data),
        "seconds": round(seconds, 3),
    }
    atomic_write(target / "contamination.jsonl", "".join(json.dumps(h.row(), ensure_ascii=False) + "\n" for h in hits))
    write_json(target / "summary.json", summary)
    atomic_write(
        target / "config.yaml", config_yaml("decontaminate", {"against": [str(a) for a in against], **as_dict(cfg)})
    )
    if run_dir is not None:
        from ..data.store import RunStore

        store = RunStore(Path(run_dir), create=False)
        try:
            store.set_meta(
                CONTAMINATION_META,
                {
                    "path": str((target / "contamination.jsonl").resolve()),
                    "flagged_keys": sorted({keys[h.index] for h in hits}),
                    **summary,
                },
            )
        finally:
            store.close()
    return summary


def _records(run_dir: str | Path | None, data: str | Path | None) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(instruction, input, output) of every record, and each record's key in a run
    ("task_key:index", so an export can find it)."""
    if run_dir is not None:
        from ..data.store import RunStore
        from ..selfinstruct.export import export_records

        store = RunStore(Path(run_dir), create=False)
        try:
            rows = export_records(store)
        finally:
            store.close()
        return [(r["instruction"], r["input"], r["output"]) for r in rows], [
            f"{r['task_key']}:{r['index']}" for r in rows
        ]
    from ..data.datasets import resolve
    from ..quality.data import read_data

    assert data is not None
    _, recs = read_data(resolve(data))
    return [(r.instruction, r.input, r.output) for r in recs], []
