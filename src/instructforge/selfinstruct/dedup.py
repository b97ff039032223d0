"""``instructforge dedup``: Self-Instruct's ROUGE-L novelty filter (Wang et al. 2023, section 2.2
"Filtering and postprocessing"; novelty.py) over a JSONL file, greedily in file order: a record
is kept iff its max ROUGE-L F with the records kept before it is <= the threshold.

Writes ``kept.jsonl`` and ``rejected.jsonl`` (each record plus ``max_rouge_l`` and
``most_similar``), ``summary.json`` and ``config.yaml``; ``api.induction.dedup`` calls it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.io import atomic_write, write_jsonl
from ..core.settings import as_dict
from ..data import outdir
from .novelty import DedupConfig, read_records
from .novelty_pool import NoveltyPool

CHUNK = 4096  # records per call to the pool (the progress bar moves between calls; more than
#              the pool's MIN_PARALLEL, so a long file uses every core from its first chunk)


def _annotated(rec: dict[str, Any], score: float, most_similar: str | None) -> dict[str, Any]:
    return {**rec, "max_rouge_l": score, "most_similar": most_similar}


def dedup_file(input_path: Path, out: Path, cfg: DedupConfig) -> dict[str, Any]:
    """Filter ``input_path`` into ``out``; returns the summary (counts)."""
    records, _ = read_records(input_path, cfg.field, strict=True)  # InputError before any write
    kept_rows: list[dict[str, Any]] = []
    rejected_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    pool = NoveltyPool(cfg.threshold, cfg.stemmer, processes=cfg.processes or None)
    with pool, ui.progress("dedup", len(records)) as bar:
        for start in range(0, len(records), CHUNK):
            chunk = [rec for _, rec in records[start : start + CHUNK]]
            answers = pool.greedy([rec[cfg.field] for rec in chunk])
            for rec, (kept, score, idx) in zip(chunk, answers, strict=True):
                # null when no kept record shares a token with it (score 0), including none kept yet
                similar = None if idx is None or score == 0.0 else pool.texts[idx]
                (kept_rows if kept else rejected_rows).append(_annotated(rec, score, similar))
                bar.advance()
    summary = {
        "input": str(input_path),
        "field": cfg.field,
        "threshold": cfg.threshold,
        "stemmer": cfg.stemmer,
        "records": len(records),
        "kept": len(kept_rows),
        "rejected": len(rejected_rows),
        "seconds": round(time.perf_counter() - t0, 3),
        "pairs_compared": pool.pairs_seen,
        "pairs_scored_exactly": pool.exact_scored,
        "cpu_count": os.cpu_count(),
        "processes": pool.processes_used,
    }
    write_jsonl(out / outdir.KEPT, kept_rows)
    write_jsonl(out / outdir.REJECTED, rejected_rows)
    atomic_write(out / outdir.SUMMARY, json.dumps(summary, indent=2) + "\n")
    outdir.write_config(out / outdir.CONFIG, as_dict(cfg), "dedup")
    return summary
