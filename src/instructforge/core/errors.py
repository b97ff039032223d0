"""Errors the CLI turns into one clear line and an exit code.

InputError (exit 2) is for anything the user can fix: a bad file, a bad model spec, a bad flag.
Its message should name the file and line: ``seeds.jsonl:12: missing "instruction"``.
BackendError (exit 1) is for a model backend that failed after its retries.
BudgetExceeded (exit 3) is a clean stop at a token or cost cap (models/usage.py).
"""

from __future__ import annotations


class InstructforgeError(Exception):
    exit_code = 1
    prefix = "error"  # the CLI prints "<prefix>: <message>"


class InputError(InstructforgeError):
    """Bad input or usage; the message is the one line shown to the user."""

    exit_code = 2

    @classmethod
    def at(cls, path: object, line: int | None, reason: str) -> InputError:
        where = f"{path}:{line}" if line is not None else f"{path}"
        return cls(f"{where}: {reason}")


class BackendError(InstructforgeError):
    """A model backend failed (server unreachable after retries, engine crash)."""

    exit_code = 1


class BudgetExceeded(InstructforgeError):
    """A run reached its ``--max-total-tokens`` or ``--budget`` cap and stopped cleanly: what was
    answered is kept, and the same command under a higher cap (or none) continues (exit 3)."""

    exit_code = 3
    prefix = "stopped"
