"""``instructforge dedup``: the Self-Instruct ROUGE-L novelty filter (Wang et al. 2023, section 2.2)
alone, over a JSONL file.

Greedy in file order: each record is compared with the records kept before it and kept iff its
max ROUGE-L F-measure is <= the threshold (the paper rejects > 0.7). Records are written back
unchanged plus ``max_rouge_l`` and ``most_similar`` (the text of the most similar kept record, or
null when no kept record shares a single token with it) to ``DIR/kept.jsonl`` and ``DIR/rejected.jsonl``, with
``DIR/summary.json``. The whole input is validated before anything is written.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from . import ui
from .novelty import NoveltyIndex, read_records
from .store import atomic_write


def _line(rec: dict[str, Any], score: float, most_similar: str | None) -> str:
    out = dict(rec)
    out["max_rouge_l"] = score
    out["most_similar"] = most_similar
    return json.dumps(out, ensure_ascii=False) + "\n"


@click.command("dedup")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: kept.jsonl, rejected.jsonl, summary.json.")
@click.option("--threshold", default=0.7, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Reject a record whose max ROUGE-L with a kept record is > this (paper: 0.7).")
@click.option("--field", default="instruction", show_default=True,
              help="The text field compared (paper: the instruction).")
@click.option("--stemmer", is_flag=True,
              help="Porter-stem tokens as rouge_score's use_stemmer=True (paper: off).")
def dedup(input_path: Path, out_dir: Path, threshold: float, field: str, stemmer: bool) -> None:
    """Drop records too similar (ROUGE-L) to an earlier kept record, greedily in file order."""
    records, _ = read_records(input_path, field, strict=True)  # InputError before any write
    index = NoveltyIndex(threshold=threshold, use_stemmer=stemmer)
    kept_lines: list[str] = []
    rejected_lines: list[str] = []
    t0 = time.perf_counter()
    with ui.progress("dedup", len(records)) as bar:
        for _, rec in records:
            kept, score, idx = index.check_and_add(rec[field])
            # null when no kept record shares a token with it (score 0), including none kept yet
            similar = None if idx is None or score == 0.0 else index.texts[idx]
            (kept_lines if kept else rejected_lines).append(_line(rec, score, similar))
            bar.advance()
    seconds = time.perf_counter() - t0
    summary = {
        "input": str(input_path),
        "field": field,
        "threshold": threshold,
        "stemmer": stemmer,
        "records": len(records),
        "kept": len(kept_lines),
        "rejected": len(rejected_lines),
        "seconds": round(seconds, 3),
        "pairs_compared": index.pairs_seen,
        "pairs_scored_exactly": index.exact_scored,
        "cpu_count": os.cpu_count(),
    }
    atomic_write(out_dir / "kept.jsonl", "".join(kept_lines))
    atomic_write(out_dir / "rejected.jsonl", "".join(rejected_lines))
    atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    ui.show(ui.table(f"dedup {input_path.name} (ROUGE-L > {threshold} rejected)",
                     ["records", "kept", "rejected", "seconds", "output"],
                     [[len(records), len(kept_lines), len(rejected_lines), round(seconds, 2),
                       str(out_dir)]]))
