"""``instructforge dedup``: the Self-Instruct ROUGE-L novelty filter (Wang et al. 2023, section 2.2)
alone, over a JSONL file; a thin shell over ``instructforge.api.induction.dedup``.

Greedy in file order: each record is compared with the records kept before it and kept iff its
max ROUGE-L F-measure is <= the threshold (the paper rejects > 0.7). Records are written back
unchanged plus ``max_rouge_l`` and ``most_similar`` (the text of the most similar kept record, or
null when no kept record shares a single token with it) to ``DIR/kept.jsonl`` and
``DIR/rejected.jsonl``, with ``DIR/summary.json`` and ``DIR/config.yaml``. The whole input is
validated before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..api.induction import DedupConfig
from ..core import ui
from .settings import settings_command


@click.command("dedup")
@click.argument("input_path", metavar="INPUT.jsonl|NAME", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: kept.jsonl, rejected.jsonl, summary.json, config.yaml.",
)
@settings_command("dedup", cfg=DedupConfig)
def dedup(input_path: Path, out_dir: Path, cfg: DedupConfig) -> None:
    """Drop records too similar (ROUGE-L) to an earlier kept record, greedily in file order.

    INPUT: a JSONL file, an Alpaca JSON list, or a dataset name (alpaca: the 52K Alpaca instructions).
    """
    from ..api.induction import dedup as run_dedup

    s = run_dedup(input_path, out=out_dir, config=cfg)
    ui.show(
        ui.table(
            f"dedup {input_path.name} (ROUGE-L > {cfg.threshold} rejected)",
            ["records", "kept", "rejected", "seconds", "output"],
            [[s["records"], s["kept"], s["rejected"], round(s["seconds"], 2), str(out_dir)]],
        )
    )
