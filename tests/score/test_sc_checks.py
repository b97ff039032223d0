"""The deterministic checks on hand-made records: each fires on what it is defined for and stays
quiet on the near misses that real, good data has."""

from __future__ import annotations

import pytest

from instructforge.data.records import Triple
from instructforge.quality.checks import REASONS, run_checks
from instructforge.quality.config import ScoreConfig

CFG = ScoreConfig()


def reasons(ins: str, inp: str, out: str, cfg: ScoreConfig = CFG) -> list[str]:
    return [r.reason for r in run_checks(Triple(ins, inp, out), cfg)]


@pytest.mark.parametrize(
    ("ins", "inp", "out", "want"),
    [
        ("Name a primary color.", "", "Red.", []),
        ("", "", "Red.", ["empty_instruction"]),
        ("Name a primary color.", "", "  \n ", ["empty_output"]),
        ("Fix the spelling.", "I like  cats.", "I like cats.", ["copies_input"]),
        ("Make it upper case.", "hello", "HELLO", []),  # a transformation, not a copy
        ("Give me a list of three fruits.", "", "Give me a list of three fruits!", ["echoes_instruction"]),
        (
            "Give me a list of three fruits.",
            "",
            "Sure. Give me a list of three fruits: apple, pear, fig.",
            ["echoes_instruction"],
        ),
        ("Say hi.", "", "I will say hi to you.", []),  # short instructions are only compared whole
        ("Write a greeting.", "", "Hello there.\nHello there.\nHello there.", ["repeated_line"]),
        ("Write a greeting.", "", "Hello there. Hello there. Hello there.", ["repeated_line"]),
        ("Write a greeting.", "", "Hello there.\nHello there.", []),  # twice is below repeat_lines=3
        ("List answers.", "", "- yes\n- yes\n- yes", []),  # one-word lines are not repetition
        (
            "Explain rain.",
            "",
            "Water vapour cools and condenses. Then the droplets grow until they",
            ["truncated_output"],
        ),
        ("Explain rain.", "", "Water vapour cools (as it rises", ["truncated_output"]),
        ("Show code.", "", "```python\nprint(1)\n", ["truncated_output"]),
        ("Explain rain.", "", "Water vapour cools and then,", ["truncated_output"]),
        (
            "Suggest a title.",
            "",
            "A Quiet Guide to the Rivers and Mountains of Northern Europe",
            [],
        ),  # no sentence before
        ("List fruits.", "", "Here they are.\n- apples, pears and figs from the market stall today", []),  # list item
        ("Print the date.", "", "const d = new Date();\nconsole.log(d.toISOString());", []),
        (
            "Describe your weekend in a few words.",
            "",
            "El sábado fui a la playa con mis amigos y comimos en un restaurante.",
            ["language_mismatch"],
        ),
        (
            "Describe your weekend in a few words.",
            "",
            "В субботу я ходил на пляж с друзьями и мы ели в ресторане.",
            ["language_mismatch"],
        ),
        (
            "Translate the sentence into Spanish.",
            "I went to the beach with my friends.",
            "Fui a la playa con mis amigos y comimos en un restaurante.",
            [],
        ),  # asked for
        (
            "Find links about arrays in the answer.",
            "",
            "See https://stackoverflow.com/a/1 and https://example.com/b/c",
            [],
        ),
    ],
)
def test_sc_checks_on_hand_made_records(ins, inp, out, want):
    assert reasons(ins, inp, out) == want


def test_sc_checks_can_fire_together_and_thresholds_are_config():
    out = "Give me a list of three fruits.\nGive me a list of three fruits.\nGive me a list of three fruits."
    assert reasons("Give me a list of three fruits.", "", out) == ["echoes_instruction", "repeated_line"]
    assert reasons("Write a greeting.", "", "Hello there.\nHello there.", ScoreConfig(repeat_lines=2)) == [
        "repeated_line"
    ]
    prose = "It rains. Water falls down"
    assert reasons("Explain rain.", "", prose) == []  # last line of 4 words < truncation_min_words
    assert reasons("Explain rain.", "", prose, ScoreConfig(truncation_min_words=4)) == ["truncated_output"]


def test_sc_check_details_say_what_was_found():
    (r,) = run_checks(Triple("Write a greeting.", "", "Hi you.\nHi you.\nHi you.\nHi you."), CFG)
    assert r.reason == "repeated_line" and r.detail == "'hi you' x4"
    (r,) = run_checks(
        Triple("Tell me how your day was, please.", "", "Das ist nicht gut und ich bin auch nicht froh."), CFG
    )
    assert (r.reason, r.detail) == ("language_mismatch", "en instruction, de output")


def test_sc_every_reason_is_named_after_its_check():
    assert REASONS == [
        "empty_instruction",
        "empty_output",
        "copies_input",
        "echoes_instruction",
        "repeated_line",
        "truncated_output",
        "language_mismatch",
    ]
