"""``induction evaluate`` end to end with the scripted backend on a task the code has never
heard of (default table row: exact match on ``output``), plus ``induce --as-seeds``."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, write_rules
from instructforge.induction import benchmark as bm
from instructforge.induction.induce import read_demos


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


@pytest.fixture
def shout_dir(tmp_path):
    d = tmp_path / "data"
    words = ["cat", "dog", "emu", "fox"]
    _write(
        d / "raw" / "execute" / "shout.json",
        {
            "metadata": {"num_examples": 4},
            "examples": {str(i + 1): {"input": w, "output": w.upper()} for i, w in enumerate(words)},
        },
    )
    pool = ["ant", "bee", "cow", "doe", "eel", "gnu", "hen", "jay"]
    _write(
        d / "raw" / "induce" / "shout.json",
        {
            "metadata": {"num_examples": 8},
            "examples": {str(i + 1): {"input": w, "output": w.upper()} for i, w in enumerate(pool)},
        },
    )
    _write(d / "annotations" / "shout.json", {"annotations": ["Capitalise the word.", "Uppercase it."]})
    return d


RULES = [
    {
        "contains": "The instruction I gave my friend was",
        "response": [" Write the word in capitals", " probably: Shout it"],
    },
    {"regex": r"Instruction: Write the word in capitals\nInput: (cat|dog)\n", "response": "CAT!"},
    {"regex": r"Instruction: Capitalise the word\.\nInput: cat\n", "response": " Cat\nmore"},
    {"default": True, "response": "no idea"},
]


def test_evaluate_new_task_scripted(tmp_path, shout_dir):
    rules = write_rules(tmp_path / "r.jsonl", RULES)
    out = tmp_path / "out"
    r = run_cli(
        "induction",
        "evaluate",
        "--data",
        str(shout_dir),
        "--model",
        f"scripted:{rules}",
        "--out",
        str(out),
        "--num-prompts",
        "3",
        "--no-bertscore",
        "--no-cache",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "induction" and res["model"].startswith("scripted:")
    t = res["tasks"]["shout"]
    assert t["metric"] == "exact_match" and t["n_test"] == 4
    # sample_index is 0 for greedy induction: all 3 prompts give the same instruction
    assert t["instructions"] == [{"text": "Write the word in capitals", "count": 3, "accuracy": 0.25}]
    # "CAT!" is right for cat only (dog's answer is DOG); gold 1 right on cat, gold 2 never
    assert t["execution_accuracy"] == pytest.approx(0.25)
    assert t["human_execution_accuracy"] == pytest.approx(0.125)
    assert res["overall"]["percent_of_human"] == pytest.approx(200.0)
    assert set(res["overall"]) >= {"execution_accuracy", "human_execution_accuracy", "percent_of_human", "bertscore"}
    assert "| shout | exact_match | 4 | 1 | 25.0 | 12.5 | 200 | - |" in (out / "table.md").read_text()
    assert "of human" in r.stdout


def test_evaluate_search_scripted(tmp_path, shout_dir):
    rules = write_rules(
        tmp_path / "r.jsonl",
        [
            {
                "contains": "The instruction I gave my friend was",
                "response": [" Say no idea", " Write the word in capitals"],
            },
            {"regex": r"Instruction: Write the word in capitals\nInput: (\w+)\n", "response": "WORD"},
            {"default": True, "response": "no idea"},
        ],
    )
    # held-out outputs are all "WORD": only the capitals instruction executes right on them
    pool = {str(i): {"input": f"w{i}", "output": "WORD"} for i in range(12)}
    _write(shout_dir / "raw" / "induce" / "shout.json", {"examples": pool})
    out = tmp_path / "out"
    r = run_cli(
        "induction",
        "evaluate",
        "--data",
        str(shout_dir),
        "--model",
        f"scripted:{rules}",
        "--out",
        str(out),
        "--search",
        "halving",
        "--num-candidates",
        "2",
        "--no-bertscore",
        "--no-human",
        "--no-cache",
    )
    assert r.returncode == 0, r.stderr
    t = json.loads((out / "results.json").read_text())["tasks"]["shout"]
    assert t["instructions"] == [{"text": "Write the word in capitals", "count": 1, "accuracy": 0.0}]
    rows = {row["text"]: row for row in t["search"]["candidates"]}
    assert rows["Write the word in capitals"]["chosen"] and rows["Write the word in capitals"]["score"] == 1.0
    assert rows["Say no idea"]["score"] == 0.0
    assert rows["Write the word in capitals"]["evaluated"] == 7  # 12 pool examples, k=5 kept for proposals
    assert t["human_execution_accuracy"] is None


def test_task_table_variants_and_lists(tmp_path):
    table = bm.load_table()
    ce = bm.task_spec("cause_and_effect", table)
    d = tmp_path / "data"
    _write(
        d / "raw" / "execute" / "cause_and_effect.json",
        {"examples": {"7": {"cause": "It rained.", "effect": "The road got wet."}}},
    )
    items = bm.test_items(d, "cause_and_effect", ce)
    assert [(i.id, i.input, i.answers) for i in items] == [
        ("7:ab", "Sentence 1: It rained. Sentence 2: The road got wet.", ["It rained."]),
        ("7:ba", "Sentence 1: The road got wet. Sentence 2: It rained.", ["It rained."]),
    ]
    cc = bm.task_spec("common_concept", table)
    assert cc.metric == "f1"
    assert bm.fill(cc.inputs[""], {"items": ["a", "b c"]}) == "a, b c"
    assert bm.task_spec("brand_new_task", table).metric == "exact_match"
    assert bm.task_spec("synonyms", table).metric == "contains"


def test_real_benchmark_files_parse(shared_data):
    d = shared_data / "instruction-induction"
    names = bm.task_names(d)
    assert len(names) == 24
    spec = bm.task_spec("rhymes")
    items = bm.test_items(d, "rhymes", spec)
    assert len(items) == 100 and len(items[0].answers) > 1
    sets = bm.demo_sets(d, "sum", bm.task_spec("sum"), n=3)
    assert len(sets) == 3 and all(len(s) == 5 for s in sets)
    assert sets[0][0] == ("7 84", "91")  # first demonstration of induction_input/sum.json #1
    assert len(bm.subsample(bm.test_items(d, "cause_and_effect", bm.task_spec("cause_and_effect")), 3, 0)) == 6
    demos = read_demos(d / "raw" / "induce" / "common_concept.json")
    assert demos[0] == ("guitars, pendulums, neutrinos", "involve oscillations.")


def test_as_seeds(tmp_path):
    demo_dir = tmp_path / "mine"
    demo_dir.mkdir()
    (demo_dir / "mood.jsonl").write_text(
        "".join(json.dumps({"input": f"text {i}", "output": "happy" if i % 2 else "sad"}) + "\n" for i in range(6)),
        encoding="utf-8",
    )
    (demo_dir / "shout.jsonl").write_text(
        "".join(json.dumps({"input": w, "output": w.upper()}) + "\n" for w in ["ant", "bee", "cow", "doe", "eel"]),
        encoding="utf-8",
    )
    rules = write_rules(
        tmp_path / "r.jsonl",
        [
            {"contains": "Input: text 0", "response": " Label the mood of the text"},
            {"contains": "The instruction I gave my friend was", "response": "\n"},  # empty: asked again, sampled
        ],
    )
    out = tmp_path / "seeds.jsonl"
    r = run_cli("induce", "--as-seeds", str(demo_dir), "--out", str(out), "--model", f"scripted:{rules}", "--no-cache")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["name"] for x in rows] == ["mood", "shout"]
    assert set(rows[0]) == {"id", "name", "instruction", "instances", "is_classification"}
    assert rows[0]["instruction"] == "Label the mood of the text" and rows[0]["is_classification"] is True
    assert rows[1]["is_classification"] is False and len(rows[1]["instances"]) == 5
    (demo_dir / "bad.jsonl").write_text('{"input": "x", "output": "y"}\n', encoding="utf-8")
    r = run_cli(
        "induce", "--as-seeds", str(demo_dir), "--out", str(tmp_path / "s2.jsonl"), "--model", f"scripted:{rules}"
    )
    assert r.returncode == 2 and "bad.jsonl:1: 1 demonstrations, fewer than k=5" in r.stderr
    assert not (tmp_path / "s2.jsonl").exists()


@pytest.mark.slow  # loads the MiniLM encoder (tens of seconds on a busy 2-core machine)
def test_bertscore_embedded_model():
    from instructforge.induction.bertscore import bertscore_f1

    f = bertscore_f1(
        ["add the two numbers", "add the two numbers", "translate into French", ""],
        [["add the two numbers"], ["write the sum of the numbers", "name a colour"], ["sum the numbers"], ["x"]],
    )
    assert f[0] == pytest.approx(1.0, abs=1e-4)
    assert f[1] > f[2]  # related instruction beats an unrelated one
    assert f[3] == 0.0
