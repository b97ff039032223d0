"""The one prompt loader (house style rule 5: prompts are files next to the code that sends them).

Every prompt is a ``.txt`` file in the ``prompts/`` directory of its package, with ``$name``
placeholders (``string.Template``; ``$$`` is a literal dollar sign, ``${name}`` a placeholder
that runs into a word). One syntax for all of them, and not ``{name}``: task text is full of
braces (code, JSON, LaTeX), and under ``str.format`` every literal brace of a prompt would have
to be doubled. ``render`` substitutes strictly, so a placeholder left without a value is an
error rather than a hole in the prompt. tests/test_prompt_files.py renders every prompt file
against a golden copy.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

SUFFIX = ".txt"


def prompt_dir(package_or_dir: str | Path) -> Path:
    """The ``prompts/`` directory of a package (a dotted name, e.g. the caller's ``__package__``),
    or ``package_or_dir`` itself when it is a ``Path``."""
    if isinstance(package_or_dir, Path):
        return package_or_dir
    return Path(str(resources.files(package_or_dir))) / "prompts"


def prompt_path(package_or_dir: str | Path, name: str) -> Path:
    """The file of prompt ``name`` (its file name without ``.txt``)."""
    return prompt_dir(package_or_dir) / f"{name}{SUFFIX}"


@cache
def prompt(package_or_dir: str | Path, name: str) -> Template:
    """Prompt ``name`` of a package (or directory) as a ``string.Template``; read once."""
    return Template(prompt_path(package_or_dir, name).read_text(encoding="utf-8"))


def render(package_or_dir: str | Path, name: str, /, **values: Any) -> str:
    """Prompt ``name`` with its placeholders filled; a placeholder without a value is a KeyError.

    >>> render("instructforge.induction", "execute", instruction="Add one.", input="{1}")
    'Instruction: Add one.\\nInput: {1}\\nOutput:'
    """
    try:
        return prompt(package_or_dir, name).substitute(values)
    except KeyError as e:
        raise KeyError(f"{prompt_path(package_or_dir, name)}: no value for ${e.args[0]}") from None
