"""Every prompt file of the package, rendered through the one loader (instructforge.core.prompts) with
fixed values, must match its golden copy in tests/golden/prompts/<package>/ byte for byte; and
no prompt file may use the ``{name}`` placeholders of ``str.format``. The golden tests next to
each stage render the same files through the stage's own code with realistic values.

Set INSTRUCTFORGE_UPDATE_GOLDEN=1 to rewrite the golden copies after a deliberate prompt change
(then review the diff)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from string import Template

import pytest

import instructforge
from instructforge.core.prompts import prompt, render

PACKAGE_ROOT = Path(instructforge.__file__).parent
GOLDEN = Path(__file__).parent / "golden" / "prompts"
PROMPT_FILES = sorted(PACKAGE_ROOT.rglob("prompts/*.txt"))
# "{name}" not preceded by "$" ("${name}" is a string.Template placeholder).
FORMAT_FIELD = re.compile(r"(?<!\$)\{[A-Za-z_][A-Za-z0-9_]*\}")


def file_id(path: Path) -> str:
    """``selfinstruct/classify`` for src/instructforge/selfinstruct/prompts/classify.txt."""
    rel = path.relative_to(PACKAGE_ROOT)
    return "/".join(rel.parts[:-2] + (rel.stem,))


def package_of(path: Path) -> str:
    return ".".join(("instructforge", *path.relative_to(PACKAGE_ROOT).parts[:-2]))


def placeholders(t: Template) -> list[str]:
    """The placeholder names of a template, in order of first use; an invalid ``$`` fails."""
    names: list[str] = []
    for m in t.pattern.finditer(t.template):
        assert m.group("invalid") is None, f"a lone $ at offset {m.start()} (write $$ for a dollar sign)"
        name = m.group("named") or m.group("braced")
        if name and name not in names:
            names.append(name)
    return names


def test_every_prompt_dir_is_walked():
    dirs = {p.parent.relative_to(PACKAGE_ROOT).as_posix() for p in PROMPT_FILES}
    assert {
        "evaluate/prompts",
        "induction/prompts",
        "feedback/prompts",
        "selfinstruct/prompts",
    } <= dirs


@pytest.mark.parametrize("path", PROMPT_FILES, ids=file_id)
def test_prompt_file_golden(path):
    names = placeholders(prompt(package_of(path), path.stem))
    text = render(package_of(path), path.stem, **{n: f"<{n}>" for n in names})
    golden = GOLDEN / f"{file_id(path)}.txt"
    if os.environ.get("INSTRUCTFORGE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.is_file(), f"missing golden file {golden}"
    assert text == golden.read_bytes().decode("utf-8")


def test_no_golden_without_its_prompt_file():
    want = {f"{file_id(p)}.txt" for p in PROMPT_FILES}
    have = {g.relative_to(GOLDEN).as_posix() for g in GOLDEN.rglob("*.txt")}
    assert have <= want, f"golden files of deleted prompts: {sorted(have - want)}"


@pytest.mark.parametrize("path", PROMPT_FILES, ids=file_id)
def test_prompt_file_has_no_format_placeholders(path):
    found = FORMAT_FIELD.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{path}: str.format placeholders {found}; prompts use $name"


def test_render_is_strict_and_literal(tmp_path):
    (tmp_path / "t.txt").write_text("Cost: $$5 for ${item}s\n{kept} $item", encoding="utf-8")
    assert render(tmp_path, "t", item="{x} $y") == "Cost: $5 for {x} $ys\n{kept} {x} $y"
    with pytest.raises(KeyError, match=r"t\.txt: no value for \$item"):
        render(tmp_path, "t")


def test_prompts_doctests():
    import doctest

    import instructforge.core.prompts as prompts

    res = doctest.testmod(prompts)
    assert res.attempted > 0 and res.failed == 0
