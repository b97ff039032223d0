"""Unit tests: list parsing, instance parsing, the filters, seed loading (Self-Instruct §2.2)."""

from __future__ import annotations

import json

import pytest

from instructforge.core.errors import InputError
from instructforge.data.records import Instance
from instructforge.selfinstruct.alpaca import parse_triples
from instructforge.selfinstruct.bootstrap import Pool, parse_instructions
from instructforge.selfinstruct.classify import parse_answer
from instructforge.selfinstruct.config import GenerateConfig
from instructforge.selfinstruct.filters import check_instruction, filter_instances
from instructforge.selfinstruct.instances import parse_instances
from instructforge.selfinstruct.seeds import load_seeds

CFG = GenerateConfig()


def test_parse_instructions_continuation_and_stop_number():
    text = " Name   three rivers\nin Asia.\n10. Summarize the text below.\n11 . Translate it.\n16. Too far."
    assert parse_instructions(text, 9) == ["Name three rivers in Asia.", "Summarize the text below.", "Translate it."]


def test_parse_instructions_chat_preamble_and_restart():
    assert parse_instructions("Sure, here are more tasks:\n9. first one\n10. second one", 9) == [
        "First one",
        "Second one",
    ]
    assert parse_instructions("1) a task\n2) another", 9) == ["A task", "Another"]


@pytest.mark.parametrize(
    "text,reason,detail",
    [
        ("Add two numbers.", "too_short", "3 words (minimum 4)"),
        (" ".join(["word"] * 151), "too_long", "151 words (maximum 150)"),
        ("Describe the image in detail please.", "blacklist", "image"),
        ("Tell me how to go to the station.", "blacklist", "go to"),
        ("Write a program that sorts a list.", "write_a_program", 'starts with "Write a program"'),
        ('"Quote" this sentence for me now.', "bad_start", "starts with punctuation '\"'"),
        ("Écris une phrase en français ici.", "bad_start", "starts with non-ASCII 'É'"),
    ],
)
def test_instruction_filters(text, reason, detail):
    r = check_instruction(text, CFG)
    assert r is not None and (r.reason, r.detail) == (reason, detail)


def test_blacklist_whole_words_and_alpaca_option():
    assert check_instruction("Explain how a profile picture-free bio works.", CFG).reason == "blacklist"
    assert check_instruction("Summarize the mapping between the two lists.", CFG) is None  # "map" is a whole word only
    assert check_instruction("Recommend some music for a rainy day.", CFG) is None
    alp = GenerateConfig(alpaca_blacklist=True)
    assert check_instruction("Recommend some music for a rainy day.", alp).detail == "music"


def test_pool_similarity_duplicate_and_accept():
    pool = Pool(CFG, ["Give me a list of five fruits that are red."], [])
    sim = pool.judge("Give me a list of five fruits that are yellow.")
    assert sim["reason"] == "too_similar" and sim["most_similar"] == "Give me a list of five fruits that are red."
    assert sim["max_rouge_l"] > 0.7
    assert pool.judge("give me a list of five fruits that are red.")["reason"] == "duplicate"
    ok = pool.judge("Explain why the sky looks blue during the day.")
    assert ok["reason"] is None and ok["max_rouge_l"] < 0.7
    assert pool.judge("Explain why the sky looks blue during the day.")["reason"] == "duplicate"
    assert pool.judge("Whatever it is.", truncated=True)["reason"] == "truncated"


def test_parse_instances_input_first():
    text = (
        "Example 1\nInput: 3, 1, 2\nOutput: 1, 2, 3\nExample 2\nInput: multi\nline input\nOutput: done\n"
        "Example 3\nOutput: no input here"
    )
    assert parse_instances(text, False) == [
        Instance("3, 1, 2", "1, 2, 3"),
        Instance("multi\nline input", "done"),
        Instance("", "no input here"),
    ]
    assert parse_instances("Just an answer.", False) == [Instance("", "Just an answer.")]
    assert parse_instances("Here you go:\nExample 1\nInput: a\nOutput: b", False) == [Instance("a", "b")]


def test_parse_instances_output_first():
    text = "Class label: Positive\nInput: I loved it.\nClass label: Negative\nInput: Awful.\nClass label: Neutral"
    assert parse_instances(text, True) == [
        Instance("I loved it.", "Positive"),
        Instance("Awful.", "Negative"),
        Instance("", "Neutral"),
    ]


def test_instance_filters_reasons_conflict_and_cap():
    insts = [
        Instance("a", "b"),
        Instance("a", "b"),
        Instance("x", "x"),
        Instance("q", ""),
        Instance("in:", "o"),
        Instance("i", "out:"),
        Instance("c", "d"),
        Instance("e", "f"),
        Instance("g", "h"),
        Instance("k", "l"),
        Instance("m", "n"),
    ]
    kept, dropped, task_rej = filter_instances(insts, 5)
    assert task_rej is None
    survivors = [Instance("a", "b"), Instance("c", "d"), Instance("e", "f"), Instance("g", "h")]
    survivors += [Instance("k", "l"), Instance("m", "n")]
    # the cap keeps a seeded random 5 of the 6 survivors, in answer order
    assert len(kept) == 5 and kept == [i for i in survivors if i in kept]
    assert [r.reason for _, r in dropped] == [
        "duplicate",
        "input_equals_output",
        "empty_output",
        "input_ends_with_colon",
        "output_ends_with_colon",
        "over_limit",
    ]
    kept, _, task_rej = filter_instances([Instance("a", "b"), Instance("a", "c")], 5)
    assert kept == [] and task_rej.reason == "conflicting_outputs"
    assert filter_instances([Instance("", "")], 5)[2].reason == "no_instances"


def test_classify_answer():
    assert (
        parse_answer(" Yes") and parse_answer("yes.", "first_word") and not parse_answer("No") and not parse_answer("")
    )


def test_parse_triples():
    text = (
        " Name a color.\n4. Input:\n<noinput>\n4. Output:\nBlue\n###\n5. Instruction: Fix the spelling.\n"
        "5. Input:\nteh cat\n5. Output:\nthe cat\n###\n6. Instruction: broken block"
    )
    assert parse_triples(text, 4) == [
        {"instruction": "Name a color.", "input": "", "output": "Blue"},
        {"instruction": "Fix the spelling.", "input": "teh cat", "output": "the cat"},
        {"instruction": "Broken block", "bad_format": True},
    ]


def test_seed_formats(tmp_path):
    si = tmp_path / "si.jsonl"
    si.write_text(
        json.dumps(
            {
                "id": "t1",
                "name": "n",
                "instruction": "Say hi.",
                "is_classification": True,
                "instances": [{"input": "", "output": "hi"}],
            }
        )
        + "\n\n"
    )
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"instruction": "Say hi.", "input": "x", "output": "hi"}) + "\n")
    alp = tmp_path / "alpaca.json"
    alp.write_text(
        json.dumps(
            [{"instruction": "A.", "input": "", "output": "a"}, {"instruction": "B.", "input": "b", "output": "bb"}],
            indent=2,
        )
    )
    assert load_seeds(si)[0].is_classification and load_seeds(si)[0].id == "t1"
    assert load_seeds(plain)[0].instances == [Instance("x", "hi")]
    assert [t.instruction for t in load_seeds(alp)] == ["A.", "B."]


@pytest.mark.parametrize(
    "content,where",
    [
        ('{"instruction": "ok", "output": "o"}\n{"instruction": "x", "output": 3}\n', ':2: "output" must be a string'),
        ('{"instruction": "ok", "output": "o"}\nnot json\n', ":2: not valid JSON"),
        ('{"output": "o"}\n', ':1: missing "instruction"'),
        ('{"instruction": "  ", "output": "o"}\n', ':1: "instruction" is empty'),
        ('{"instruction": "a", "instances": "x"}\n', ':1: "instances" must be a list'),
        ('[\n {"instruction": "a", "output": "b"},\n {"instruction": "c"}\n]\n', ':3: missing "output"'),
        ('[\n {"instruction": "a", "output": "b"},\n {oops}\n]\n', ":3: not valid JSON"),
        (
            '{"id": "x", "instruction": "a", "output": "b"}\n{"id": "x", "instruction": "c", "output": "d"}\n',
            ":2: duplicate id 'x'",
        ),
    ],
)
def test_bad_seeds(tmp_path, content, where):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_seeds(p)
    assert str(e.value).startswith(f"{p}{where}")
