"""Files in and out the same way everywhere: JSONL input (blank lines skipped, a bad line is an
InputError naming the file and line, exit 2, one line) and ``atomic_write``, the one way every file
is written (readers see the old content or the new, never a half)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError


def json_lines(text: str) -> Iterator[tuple[int, Any, json.JSONDecodeError | None]]:
    """``(line, value, None)`` for every non-blank line of JSONL text, ``(line, None, error)`` for
    one that is not JSON: ``iter_jsonl`` raises it as FILE:LINE, a reader with messages of its own
    (``selfinstruct.novelty``'s lenient ``read_records``, the packaged demonstrations) words it."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line), None
        except json.JSONDecodeError as e:
            yield n, None, e


def iter_jsonl(path: Path | str, text: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for every non-blank line of a JSONL file.

    ``text`` may be passed when the caller already read the file.
    """
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(f"{path}: cannot read ({e.strerror})") from None
    for n, value, err in json_lines(text):
        if err is not None:
            raise InputError.at(path, n, f"not valid JSON ({err.msg})") from None
        yield n, value


def write_json(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (readers see the old file or the new one)."""
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: Path | str, rows: Iterable[Any]) -> None:
    """Write one JSON value per line (non-ASCII kept as is), atomically."""
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_text(path: Path | str) -> str:
    """A UTF-8 text file, or an InputError naming it (exit 2, one line)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError.at(path, None, f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise InputError.at(path, None, f"cannot read ({e.strerror})") from None


TMP_SUFFIX = ".if-tmp"


def sweep_temp_files(folder: Path) -> None:
    """Remove temp files that a killed atomic_write left behind (they were never visible)."""
    for p in folder.rglob(f".*{TMP_SUFFIX}"):
        p.unlink(missing_ok=True)


def atomic_write(path: Path | str, data: str | bytes) -> None:
    """Write a file so that readers see the old or the new content, never a half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
