"""The deterministic checks ``instructforge score`` runs on every record (their definitions live
in data/checks.py, shared with the validity checks of ``generate`` and ``instructforge check``)."""

from __future__ import annotations

from ..data.checks import (
    CHECKS,
    CHECKS_VERSION,
    LIST_ITEM,
    REASONS,
    STOPWORDS,
    Check,
    copies_input,
    echoes_instruction,
    empty_instruction,
    empty_output,
    language_mismatch,
    latin_language,
    normalise,
    repeated_line,
    run_checks,
    script,
    truncated_output,
)

__all__ = [
    "CHECKS",
    "CHECKS_VERSION",
    "LIST_ITEM",
    "REASONS",
    "STOPWORDS",
    "Check",
    "copies_input",
    "echoes_instruction",
    "empty_instruction",
    "empty_output",
    "language_mismatch",
    "latin_language",
    "normalise",
    "repeated_line",
    "run_checks",
    "script",
    "truncated_output",
]
