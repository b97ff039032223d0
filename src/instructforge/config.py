"""Config files: one YAML reader for every command (JSON works too: it is a subset of YAML).

A syntax error names the file and line; a file that is not a mapping, or that names a field the
config dataclass does not have, is an InputError (exit 2) before anything is written.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError


def read_mapping(path: Path | str, what: str = "config") -> dict[str, Any]:
    """The YAML/JSON mapping in ``path`` ({} for an empty file)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError.at(path, line, f"bad YAML: {getattr(e, 'problem', None) or e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError.at(path, 1, f"expected a mapping of {what} fields")
    return data


def field_overrides(path: Path | str, cls: type, label: str = "config") -> dict[str, Any]:
    """Overrides for the fields of dataclass ``cls``; an unknown field name is an InputError."""
    data = read_mapping(path)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            raise InputError.at(path, None, f"unknown {label} field {k!r}")
    return data
