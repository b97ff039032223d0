"""Summary statistics the reports and the score summary share: a histogram of counts per bin."""

from __future__ import annotations

from typing import Any

import numpy as np


def histogram(
    values: list[float], bins: int, lo: float | None = None, hi: float | None = None, integer: bool = False
) -> dict[str, Any]:
    """Counts per bin; values above ``hi`` are counted in the last bin (``overflow`` says how
    many), so a few very long outputs do not squash the chart."""
    n = len(values)
    if n == 0:
        return {"n": 0, "edges": [], "counts": [], "overflow": 0, "mean": None, "median": None, "max": None}
    arr = np.asarray(values, dtype=float)
    lo = float(arr.min()) if lo is None else lo
    if hi is None:
        hi = float(np.percentile(arr, 99))
    hi = max(hi, lo + 1.0) if integer else max(hi, lo + 1e-9)
    if integer:
        width = max(1, int(np.ceil((hi - lo) / bins)))
        edges = np.arange(lo, lo + width * (bins + 1), width, dtype=float)[: bins + 1]
        hi = float(edges[-1])
    else:
        edges = np.linspace(lo, hi, bins + 1)
    overflow = int((arr > hi).sum())
    counts, _ = np.histogram(np.clip(arr, lo, hi), bins=edges)
    return {
        "n": n,
        "edges": [round(float(e), 4) for e in edges],
        "counts": [int(c) for c in counts],
        "overflow": overflow,
        "mean": round(float(arr.mean()), 4),
        "median": round(float(np.median(arr)), 4),
        "max": round(float(arr.max()), 4),
    }
