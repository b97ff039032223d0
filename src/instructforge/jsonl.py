"""Reading JSONL input the same way everywhere: blank lines skipped, a bad line is an
InputError naming the file and line (exit 2, one line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError


def iter_jsonl(path: Path | str, text: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for every non-blank line of a JSONL file.

    ``text`` may be passed when the caller already read the file.
    """
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(f"{path}: cannot read ({e.strerror})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError.at(path, n, f"not valid JSON ({e.msg})") from None


def write_json(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (readers see the old file or the new one)."""
    from .store import atomic_write

    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_text(path: Path | str) -> str:
    """A UTF-8 text file, or an InputError naming it (exit 2, one line)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError.at(path, None, f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise InputError.at(path, None, f"cannot read ({e.strerror})") from None
