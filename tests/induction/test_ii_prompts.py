"""Golden renders of every Instruction Induction prompt file."""

from __future__ import annotations

from pathlib import Path

from instructforge.core.prompts import render
from instructforge.induction.execute import render_execute_prompt
from instructforge.induction.induce import render_induce_prompt

GOLDEN = Path(__file__).parent / "golden"
DEMOS = [("cat", "cats"), ("box", "boxes"), ("mouse", "mice"), ("leaf", "leaves"), ("child", "children")]


def test_induce_prompt_golden():
    assert render_induce_prompt(DEMOS) == (GOLDEN / "induce_prompt.txt").read_text(encoding="utf-8")


def test_induce_prompt_counts_demonstrations():
    assert "along with three inputs" in render_induce_prompt(DEMOS[:3])
    assert render_induce_prompt(DEMOS).endswith(
        "Input: child\nOutput: children\n\nThe instruction I gave my friend was"
    )


def test_execute_prompt_golden():
    got = render_execute_prompt("Write the plural form of the noun.", "goose")
    assert got == (GOLDEN / "execute_prompt.txt").read_text(encoding="utf-8")
    assert got == "Instruction: Write the plural form of the noun.\nInput: goose\nOutput:"


def test_variation_prompt_golden():
    got = render("instructforge.induction", "variation", instruction="Write the plural form of the noun.")
    assert got == (GOLDEN / "variation_prompt.txt").read_text(encoding="utf-8")
