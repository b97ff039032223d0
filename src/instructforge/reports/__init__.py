"""Self-contained HTML report of a generate run or an evaluation (``instructforge report``)."""

from __future__ import annotations

from .html import build_report
from .rundata import ReportConfig

__all__ = ["build_report", "ReportConfig"]
