"""Golden-file tests: every Self-Instruct prompt rendered with fixed inputs must match the
checked-in file byte for byte. Set INSTRUCTFORGE_UPDATE_GOLDEN=1 to rewrite them after a
deliberate prompt change (then review the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from instructforge.data.records import Instance, Task
from instructforge.selfinstruct.alpaca import render_alpaca_prompt
from instructforge.selfinstruct.bootstrap import render_bootstrap_prompt
from instructforge.selfinstruct.classify import classify_prompt
from instructforge.selfinstruct.export import finetuning_pairs
from instructforge.selfinstruct.instances import instance_prompt

GOLDEN = Path(__file__).parent / "golden"

DEMOS = (
    {
        "style": "input_first",
        "instruction": "Put the words in alphabetical order.",
        # a task-specific field name, and one input written without any (shown as "Input:")
        "examples": [{"input": "Words: pear apple fig", "output": "apple fig pear"}, {"input": "b a", "output": "a b"}],
    },
    {
        "style": "input_first",
        "instruction": "Suggest a name for a pet goldfish.",
        "examples": [{"input": "", "output": "Bubbles"}],
    },
    {
        "style": "output_first",
        "instruction": "Does the sentence end with a question mark?",
        "examples": [
            {"input": "Sentence: Where is it?", "output": "Yes"},
            {"input": "Sentence: Here it is.", "output": "No"},
        ],
    },
    {"style": "output_first", "instruction": "Name the primary colours.", "examples": [{"input": "", "output": "red"}]},
)
CLF_EXAMPLES = (
    ("Tell whether the review is positive or negative.", True),
    ("Write a short story about a dragon {with braces}.", False),
)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("INSTRUCTFORGE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}"
    assert text == path.read_text(encoding="utf-8")


def test_bootstrap_prompt_golden():
    check(
        "bootstrap.txt",
        render_bootstrap_prompt(
            ["Give three synonyms of happy.", "Explain $HOME in a shell.", "Is 17 a prime number?"]
        ),
    )


def test_classify_prompt_golden():
    check("classify.txt", classify_prompt("Decide if the email is spam.", CLF_EXAMPLES))


@pytest.mark.parametrize("clf", [False, True])
def test_instance_prompt_golden(clf):
    name = "instance_output_first.txt" if clf else "instance_input_first.txt"
    check(name, instance_prompt("Translate the sentence into French.", clf, DEMOS))


def test_alpaca_prompt_golden():
    seeds = [
        Task("List two uses of salt.", [Instance("", "Seasoning food; melting ice.")]),
        Task("Fix the grammar.", [Instance("He go home.", "He goes home.")]),
    ]
    check("alpaca.txt", render_alpaca_prompt(seeds, 20))


def test_encoding_templates_golden():
    recs = [
        {"instruction": f"Instruction number {i}.", "input": "some input" if i % 2 else "", "output": "out"}
        for i in range(8)
    ]
    text = "\n-----\n".join(e["prompt"] + e["completion"] for e in finetuning_pairs(recs, seed=0))
    check("encodings.txt", text)
