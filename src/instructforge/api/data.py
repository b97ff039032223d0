"""The Python API of the named datasets and decontamination.

``instructforge decontaminate`` is a thin shell over ``decontaminate``; dataset names resolve
through ``instructforge.data.datasets`` (``instructforge.dataset_path("superni-test")``)::

    from instructforge.api.data import decontaminate

    s = decontaminate("runs/si", against=["superni-test", "user-oriented"], out="runs/si/decontaminate")
    s["flagged"], s["by_benchmark"]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.datasets import data_dir as data_dir  # re-exported for cli/ (instructforge data ...)
from ..data.datasets import dataset_path as dataset_path
from ..data.datasets import get as get
from ..data.datasets import listing as listing
from ..data.datasets import verify as verify
from ..data.outdir import CONTAMINATION as CONTAMINATION
from ..data.outdir import DECONTAMINATE_DIR as DECONTAMINATE_DIR
from ..quality.decontaminate import DecontaminateConfig as DecontaminateConfig

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
    from ..quality.decontaminate import run_decontaminate

    return run_decontaminate(run_dir, data, against, out, config or DecontaminateConfig())
