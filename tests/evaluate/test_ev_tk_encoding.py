"""The SuperNI prompt follows Tk-Instruct's encoding (src/ni_collator.py, DataCollatorForNI):
"Definition: D." + blank line + [positive examples] + "Now complete the following example -",
"Input: X." and "Output:", a period added to a definition, input or example output that has no
final punctuation. The one difference kept: no space after the final "Output:" (a BPE model's
answer starts with its own space token)."""

from pathlib import Path

from instructforge.evaluate.superni import SuperNIInstance, SuperNITask, render_prompt


def _task(definition: str, inp: str, examples: list[dict] | None = None) -> SuperNITask:
    return SuperNITask(
        "task9998_toy", Path("x.json"), definition, "Toy", examples or [], [SuperNIInstance("t-1", inp, ["x"])]
    )


def test_zero_shot_ends_with_tk_instruct_cue_and_adds_periods():
    got = render_prompt(
        _task("Say the colour of the fruit", "  a ripe lemon\n"), SuperNIInstance("t", "a ripe lemon", [])
    )
    assert got == (
        "Definition: Say the colour of the fruit.\n\n"
        "Now complete the following example -\n"
        "Input: a ripe lemon.\n"
        "Output:"
    )


def test_final_punctuation_is_kept_as_it_is():
    t = _task("Is it a fruit?", "tomato!")
    got = render_prompt(t, t.instances[0])
    assert "Definition: Is it a fruit?\n\n" in got and "Input: tomato!\n" in got and "tomato!." not in got


def test_positive_examples_are_numbered_with_periods():
    t = _task("Name the colour", "plum", [{"input": "lime", "output": "green"}, {"input": "kiwi?", "output": "brown."}])
    assert render_prompt(t, t.instances[0], 2) == (
        "Definition: Name the colour.\n\n"
        "Positive Example 1 -\nInput: lime.\nOutput: green.\n\n"
        "Positive Example 2 -\nInput: kiwi?\nOutput: brown.\n\n"
        "Now complete the following example -\nInput: plum.\nOutput:"
    )
