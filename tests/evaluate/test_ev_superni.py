"""SuperNI scoring on the real task files: expectations computed independently with rouge_score."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from conftest import run_cli, write_rules
from instructforge.core.errors import InputError
from instructforge.evaluate.superni import (
    SuperNIConfig,
    SuperNIInstance,
    SuperNITask,
    build_requests,
    load_tasks,
    normalize_answer,
    render_prompt,
    score,
)

GOLDEN = Path(__file__).with_name("golden")
TASKS = [
    "task1612_sick_label_classification",
    "task288_gigaword_summarization",
    "task102_commongen_sentence_generation",
]
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def ref_rouge(pred: str, refs: list[str]) -> float:
    return max(SCORER.score(r, pred)["rougeL"].fmeasure for r in refs)


def ref_em(pred: str, refs: list[str]) -> float:
    def norm(s: str) -> str:
        return " ".join(s.lower().translate(str.maketrans("", "", string.punctuation)).split())

    return float(any(norm(pred) == norm(r) for r in refs))


def instances(shared_data: Path, task: str, n: int) -> list[dict]:
    return json.loads((shared_data / "superni" / f"{task}.json").read_text())["Instances"][:n]


def write_preds(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_normalize_answer_follows_the_official_rules():
    assert normalize_answer("  The Cat's   hat!\n") == "the cats hat"
    assert normalize_answer("A, an; THE.") == "a an the"  # articles are kept (unlike SQuAD)


def test_loader_ignores_non_task_files_and_reads_categories(shared_data):
    tasks = load_tasks(shared_data / "superni", max_instances=5)
    assert len(tasks) == 23 and all(len(t.instances) == 5 for t in tasks)
    by_name = {t.name: t for t in tasks}
    assert by_name["task1612_sick_label_classification"].category == "Textual Entailment"
    # task288 has two phrasings of its definition: the first one is used (as Tk-Instruct does)
    assert by_name["task288_gigaword_summarization"].definition.startswith("In this task, you are given a text")


def test_first_reference_scores_100_and_empty_scores_0(shared_data):
    tasks = load_tasks(shared_data / "superni", max_instances=10, only=TASKS[:2])
    gold = {i.id: i.references[0] for t in tasks for i in t.instances}
    res, rows = score(tasks, gold, "gold")
    assert res["overall"] == {"rougeL": 100.0, "exact_match": 100.0}
    res, rows = score(tasks, dict.fromkeys(gold, ""), "empty")
    assert res["overall"] == {"rougeL": 0.0, "exact_match": 0.0}
    assert res["tasks"]["task288_gigaword_summarization"] == {
        "rougeL": 0.0,
        "exact_match": 0.0,
        "n": 10,
        "category": "Title Generation",
    }


def test_mixed_predictions_match_rouge_score(shared_data, tmp_path):
    """predictions mode through the real CLI: task1612 all correct, task288 empty + missing,
    task102 hand-made sentences; every number recomputed here with rouge_score."""
    n = 6
    rows, expected = [], {}
    a = instances(shared_data, TASKS[0], n)
    rows += [{"id": i["id"], "prediction": f"  {i['output'][0]}. "} for i in a]  # punctuation/space: EM still 1
    expected[TASKS[0]] = [
        (ref_rouge(f"  {i['output'][0]}. ", i["output"]), ref_em(f"  {i['output'][0]}. ", i["output"])) for i in a
    ]
    b = instances(shared_data, TASKS[1], n)
    rows += [{"id": i["id"], "prediction": ""} for i in b[:3]]  # the other 3 are missing: scored as ""
    expected[TASKS[1]] = [(0.0, 0.0)] * n
    c = instances(shared_data, TASKS[2], n)
    made = [
        "the dogs are running in the parks",
        "A man rides the horses quickly",
        "nothing relevant here",
        c[3]["output"][-1].upper(),
        "",
        "Children playing with a ball in the yard.",
    ]
    rows += [{"id": i["id"], "prediction": p} for i, p in zip(c, made, strict=True)]
    expected[TASKS[2]] = [(ref_rouge(p, i["output"]), ref_em(p, i["output"])) for i, p in zip(c, made, strict=True)]
    preds = write_preds(tmp_path / "p.jsonl", rows)
    out = tmp_path / "out"
    r = run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(shared_data / "superni"),
        "--predictions",
        str(preds),
        "--out",
        str(out),
        "--max-instances",
        str(n),
        "--only",
        ",".join(TASKS),
        check=True,
    )
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "superni" and res["missing_predictions"] == 3
    for t, scores in expected.items():
        assert res["tasks"][t]["rougeL"] == pytest.approx(100 * sum(s[0] for s in scores) / n, abs=1e-4)
        assert res["tasks"][t]["exact_match"] == pytest.approx(100 * sum(s[1] for s in scores) / n, abs=1e-4)
    assert res["tasks"][TASKS[0]]["exact_match"] == 100.0
    assert 0 < res["tasks"][TASKS[2]]["rougeL"] < 100
    flat = [s for t in TASKS for s in expected[t]]
    assert res["overall"]["rougeL"] == pytest.approx(100 * sum(s[0] for s in flat) / len(flat), abs=1e-4)
    assert res["categories"]["Data to Text"]["n_tasks"] == 1
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * n and set(lines[0]) == {"id", "task", "prediction", "references", "rougeL", "exact_match"}
    assert "overall ROUGE-L" in r.stdout


def test_micro_average_over_instances(shared_data):
    """Official script: overall = mean over instances, so a 2-instance task weighs less."""
    t = load_tasks(shared_data / "superni", max_instances=4, only=TASKS[:1])[0]
    t2 = load_tasks(shared_data / "superni", max_instances=1, only=TASKS[1:2])[0]
    preds = {i.id: i.references[0] for i in t.instances}  # 4 x 100, and t2's 1 instance -> 0
    res, _ = score([t, t2], preds, "m")
    assert res["overall"]["rougeL"] == pytest.approx(80.0)


def test_bad_task_file_and_bad_predictions_exit_2(shared_data, tmp_path):
    src = json.loads((shared_data / "superni" / f"{TASKS[0]}.json").read_text())
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "notes.txt").write_text("not a task")
    bad = dict(src)
    del bad["Definition"]
    (tasks / "task0001_bad.json").write_text(json.dumps(bad))
    out = tmp_path / "out"
    r = run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(tasks),
        "--predictions",
        str(write_preds(tmp_path / "x.jsonl", [])),
        "--out",
        str(out),
    )
    assert r.returncode == 2 and r.stderr.strip().endswith('task0001_bad.json: missing "Definition"')
    assert not out.exists()
    (tasks / "task0001_bad.json").unlink()
    (tasks / f"{TASKS[0]}.json").write_text(json.dumps(src))
    ids = [i["id"] for i in src["Instances"][:3]]
    cases = {
        "unknown": (
            [{"id": ids[0], "prediction": "1"}, {"id": "task1612-nope", "prediction": "1"}],
            "p.jsonl:2: id task1612-nope is not an instance",
        ),
        "dup": (
            [{"id": ids[0], "prediction": "1"}, {"id": ids[1], "prediction": "1"}, {"id": ids[0], "prediction": "2"}],
            "p.jsonl:3: duplicate id",
        ),
        "nojson": ([{"id": ids[0], "prediction": "1"}], "p.jsonl:2: not valid JSON"),
        "noid": ([{"prediction": "1"}], 'p.jsonl:1: needs "id" and "prediction"'),
    }
    for name, (rows, msg) in cases.items():
        (tmp_path / name).mkdir()
        p = write_preds(tmp_path / name / "p.jsonl", rows)
        if name == "nojson":
            p.write_text(p.read_text() + "{oops\n")
        r = run_cli("evaluate", "superni", "--tasks", str(tasks), "--predictions", str(p), "--out", str(out))
        assert r.returncode == 2, r.stderr
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()
    r = run_cli(
        "evaluate", "superni", "--tasks", str(tasks), "--predictions", str(p), "--model", "embedded", "--out", str(out)
    )
    assert r.returncode == 2 and "not both" in r.stderr


def test_missing_definition_is_an_input_error(tmp_path):
    (tmp_path / "task1_x.json").write_text(json.dumps({"Definition": ["d"], "Instances": [{"id": "a", "input": "i"}]}))
    with pytest.raises(InputError, match=r"task1_x.json: instance 0: needs id, input and output"):
        load_tasks(tmp_path)


def _toy_task() -> SuperNITask:
    return SuperNITask(
        "task9999_colour_of_fruit",
        Path("x.json"),
        "Name the usual colour of the fruit in the input. Answer with one word.",
        "Fruit Facts",
        [
            {"input": "banana", "output": "yellow"},
            {"input": " lime ", "output": "green "},
            {"input": "plum", "output": "purple"},
        ],
        [SuperNIInstance("task9999-1", "  cherry\n", ["red"])],
    )


@pytest.mark.parametrize("k,golden", [(0, "superni_zero_shot.txt"), (2, "superni_two_shot.txt")])
def test_prompt_golden(k, golden):
    t = _toy_task()
    assert render_prompt(t, t.instances[0], k) == (GOLDEN / golden).read_text()


def test_requests_are_greedy_chat_or_raw():
    t = _toy_task()
    _, reqs = build_requests([t], SuperNIConfig())
    assert reqs[0].messages is not None and reqs[0].params.temperature == 0 and reqs[0].params.max_tokens == 64
    _, reqs = build_requests([t], SuperNIConfig(prompt_format="raw", max_tokens=7))
    assert reqs[0].prompt == render_prompt(t, t.instances[0]) and reqs[0].params.max_tokens == 7


def test_model_mode_with_scripted_backend(shared_data, tmp_path, isolated_cache):
    """The model path end to end: each prompt reaches the backend once, in the chat format."""
    rules = write_rules(
        tmp_path / "rules.jsonl",
        [
            {"contains": "sentence_A: A biker is naked.", "response": "2\nBecause a naked biker wears no gear."},
            {"default": True, "response": "no idea"},
        ],
    )
    log = tmp_path / "log.jsonl"
    out = tmp_path / "out"
    run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(shared_data / "superni"),
        "--model",
        f"scripted:{rules}",
        "--out",
        str(out),
        "--only",
        TASKS[0],
        "--max-instances",
        "3",
        "--stop",
        "\\n",
        env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
        check=True,
    )
    sent = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(sent) == 3 and all(s["messages"][0]["role"] == "user" and s["params"]["temperature"] == 0 for s in sent)
    assert all(s["params"]["stop"] == ["\n"] and s["params"]["max_tokens"] == 64 for s in sent)
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert rows[0]["prediction"] == "2" and rows[0]["rougeL"] == 100.0  # cut at the newline; reference "2"
    assert [r["prediction"] for r in rows[1:]] == ["no idea", "no idea"]
