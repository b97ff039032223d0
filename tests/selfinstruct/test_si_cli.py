"""The real ``generate`` / ``export`` CLI on the scripted backend: exact accepted/rejected sets
with reasons (golden run), bad seed files, exports, --from-run and --mode alpaca."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from si_helpers import generate_args, records, run_cli, setup_run_files, write_rules, write_seeds

EXPECTED_CANDIDATES = [
    ("p000000.00", "accepted", "Decide if this email is spam or not.", None, None, True),
    ("p000000.01", "accepted", "Write a haiku about the sea and the moon.", None, None, False),
    ("p000000.02", "rejected", "Draw a picture of a cat please.", "blacklist", "picture", None),
    ("p000000.03", "rejected", "Hi.", "too_short", "1 words (minimum 4)", None),
    (
        "p000000.04",
        "rejected",
        "Give me a list of five fruits that are yellow.",
        "too_similar",
        "ROUGE-L 0.900 > 0.7",
        None,
    ),
    ("p000001.00", "accepted", "Explain how rainbows form in simple terms.", None, None, False),
    (
        "p000001.01",
        "rejected",
        "Write a program to add numbers in Python.",
        "write_a_program",
        'starts with "Write a program"',
        None,
    ),
    (
        "p000001.02",
        "rejected",
        "Explain how rainbows form in simple terms.",
        "duplicate",
        "same text as a pool instruction",
        None,
    ),
    ("p000001.03", "rejected", "¿Qué hora es en Madrid ahora?", "bad_start", "starts with non-ASCII '¿'", None),
    (
        "p000002.00",
        "rejected",
        "Describe your favourite season and why. " + " ".join(["word"] * 34),
        "truncated",
        "response cut by max_tokens",
        None,
    ),
    ("p000003.00", "accepted", "Classify the sentiment of a movie review as good or bad.", None, None, True),
    ("p000003.01", "accepted", "Give three tips for a job interview today.", None, None, False),
    (
        "p000003.02",
        "rejected",
        "Suggest a weekend plan for a family of four.",
        "surplus",
        "target reached earlier in this answer",
        None,
    ),
]
SPAM = [("Win money now", "Spam"), ("Meeting at 3", "Not spam")]
EXPECTED_TASKS = [
    ("p000000.00", "accepted", None, SPAM),
    ("p000000.01", "rejected", "conflicting_outputs", []),
    ("p000001.00", "accepted", None, [("hello", "HELLO"), ("hi", "HI")]),
    ("p000003.00", "accepted", None, SPAM),
    ("p000003.01", "rejected", "no_instances", []),
]


@pytest.fixture
def golden_run(tmp_path, isolated_cache):
    seeds, rules, cfg = setup_run_files(tmp_path)
    out = tmp_path / "run"
    run_cli(*generate_args(seeds, rules, cfg, out), check=True)
    return out


def test_golden_run_records(golden_run):
    cands = [
        (k, s, p["instruction"], p["reason"], p["detail"], p.get("is_classification"))
        for k, s, p in records(golden_run, "candidate")
    ]
    assert cands == EXPECTED_CANDIDATES
    tasks = [
        (k, s, p.get("reason"), [(i["input"], i["output"]) for i in p["instances"]])
        for k, s, p in records(golden_run, "task")
    ]
    assert tasks == EXPECTED_TASKS
    rej = [
        (p["task_key"], p["input"], p["output"], p["reason"]) for _, _, p in records(golden_run, "instance_rejection")
    ]
    assert rej == [("p000001.00", "x:", "X", "input_ends_with_colon"), ("p000003.01", "tips", "", "empty_output")]
    sim = dict((k, p) for k, _, p in records(golden_run, "candidate"))["p000000.04"]
    assert sim["most_similar"] == "Give me a list of five fruits that are red." and sim["max_rouge_l"] == 0.9
    assert len(records(golden_run, "seed")) == 8


def test_golden_run_summary_and_config(golden_run):
    s = json.loads((golden_run / "summary.json").read_text())
    assert s["accepted"] == 5 and s["candidates"] == 13 and s["acceptance_rate"] == round(5 / 12, 4)
    assert s["rejections_by_reason"] == {
        "blacklist": 1,
        "too_short": 1,
        "too_similar": 1,
        "write_a_program": 1,
        "duplicate": 1,
        "bad_start": 1,
        "truncated": 1,
        "surplus": 1,
    }
    assert s["tasks_rejected"] == {"conflicting_outputs": 1, "no_instances": 1}
    assert s["instances"] == 6 and s["classification"] == {"yes": 2, "no": 3} and s["stage"] == "instances"
    assert s["stats"]["requests"] == 14 and s["stats"]["cache_misses"] == 14
    import yaml

    cfg = yaml.safe_load((golden_run / "config.yaml").read_text())
    assert cfg["generate"]["num_instructions"] == 5 and cfg["generate"]["bootstrap_max_tokens"] == 40
    assert cfg["generate"]["bootstrap_top_p"] == 0.5 and cfg["generate"]["bootstrap_presence_penalty"] == 2.0


def test_rerun_finished_run_is_free_and_unchanged(golden_run, tmp_path):
    before = records(golden_run, "candidate"), records(golden_run, "task")
    log = tmp_path / "calls.jsonl"
    p = run_cli(
        *generate_args(tmp_path / "seeds.jsonl", tmp_path / "rules.jsonl", tmp_path / "cfg.json", golden_run),
        env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
        check=True,
    )
    assert p.returncode == 0 and not log.exists()  # nothing asked of the backend
    assert (records(golden_run, "candidate"), records(golden_run, "task")) == before


def test_export_formats_round_trip(golden_run, tmp_path):
    from datasets import load_from_disk

    outs = {}
    for fmt, name in [("alpaca", "a.json"), ("messages", "m.jsonl"), ("prompt-completion", "pc.jsonl"), ("hf", "hfds")]:
        p = run_cli("export", str(golden_run), "--format", fmt, "--out", str(tmp_path / name))
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == f"6 records -> {tmp_path / name}"
        outs[fmt] = tmp_path / name
    alp = json.loads(outs["alpaca"].read_text())
    expected = [("Decide if this email is spam or not.", i, o) for i, o in SPAM]
    expected += [
        ("Explain how rainbows form in simple terms.", "hello", "HELLO"),
        ("Explain how rainbows form in simple terms.", "hi", "HI"),
    ]
    expected += [("Classify the sentiment of a movie review as good or bad.", i, o) for i, o in SPAM]
    assert [(r["instruction"], r["input"], r["output"]) for r in alp] == expected
    msgs = [json.loads(line) for line in outs["messages"].read_text().splitlines()]
    assert [(m["messages"][0]["content"], m["messages"][1]["content"]) for m in msgs] == [
        (f"{ins}\n\n{i}", o) for ins, i, o in expected
    ]
    pcs = [json.loads(line) for line in outs["prompt-completion"].read_text().splitlines()]
    assert [p["completion"] for p in pcs] == [o for _, _, o in expected]
    assert all(ins in p["prompt"] and i in p["prompt"] for p, (ins, i, _) in zip(pcs, expected, strict=True))
    assert len({p["prompt"].replace(ins, "").replace(i, "") for p, (ins, i, _) in zip(pcs, expected, strict=True)}) > 1
    ds = load_from_disk(str(outs["hf"]))
    assert [(r["instruction"], r["input"], r["output"]) for r in ds] == expected
    assert ds[0]["is_classification"] is True and ds[0]["task_key"] == "p000000.00"
    p = run_cli("export", str(golden_run), "--format", "alpaca", "--out", str(tmp_path / "s.json"), "--include-seeds")
    assert len(json.loads((tmp_path / "s.json").read_text())) == 6 + 8


def test_export_not_a_run(tmp_path):
    p = run_cli("export", str(tmp_path / "nope"), "--format", "alpaca", "--out", str(tmp_path / "x.json"))
    assert p.returncode == 2 and "not a run directory" in p.stderr and not (tmp_path / "nope").exists()


@pytest.mark.parametrize(
    "content,where",
    [
        (
            '{"instruction": "Say hi.", "output": "hi"}\n{"instruction": 5, "output": "x"}\n',
            ':2: "instruction" must be a string',
        ),
        ('[{"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": "d"}\n', ":3: not valid JSON"),
        ('{"instruction": "Say hi."}\n', ':1: missing "output"'),
        ("", ": no seed tasks in the file"),
    ],
)
def test_bad_seed_file_exit_2_nothing_written(tmp_path, content, where):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    rules = write_rules(tmp_path / "r.jsonl", [{"default": True, "response": "x"}])
    out = tmp_path / "run"
    p = run_cli(
        "generate", "--seeds", str(bad), "--out", str(out), "--num-instructions", "2", "--model", f"scripted:{rules}"
    )
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {bad}{where}" or p.stderr.strip().startswith(f"error: {bad}{where}")
    assert len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_config_and_missing_seeds(tmp_path):
    seeds = write_seeds(tmp_path / "s.jsonl")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("no_such_field: 1\n")
    rules = write_rules(tmp_path / "r.jsonl", [{"default": True, "response": "x"}])
    p = run_cli(
        "generate",
        "--seeds",
        str(seeds),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(cfg),
        "--model",
        f"scripted:{rules}",
    )
    assert p.returncode == 2 and "c.yaml:1: unknown setting 'no_such_field' for generate" in p.stderr
    p = run_cli(
        "generate",
        "--seeds",
        str(tmp_path / "missing.jsonl"),
        "--out",
        str(tmp_path / "run"),
        "--model",
        f"scripted:{rules}",
    )
    assert p.returncode == 2 and "seed file not found" in p.stderr
    assert not (tmp_path / "run").exists()


def test_from_run_instances_only(golden_run, tmp_path):
    rules = write_rules(
        tmp_path / "refined.jsonl",
        [
            {
                "contains": "Each task below is a classification task",
                "response": "Class label: Yes\nInput: a\nClass label: No\nInput: b",
            },
            {"contains": "Write examples for each of the tasks below", "response": "Example 1\nInput: q\nOutput: r"},
        ],
    )
    out = tmp_path / "stage3"
    log = tmp_path / "log.jsonl"
    p = run_cli(
        "--quiet",
        "generate",
        "--from-run",
        str(golden_run),
        "--out",
        str(out),
        "--model",
        f"scripted:{rules}",
        env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
    )
    assert p.returncode == 0, p.stderr
    assert len(log.read_text().splitlines()) == 5  # one instance request per accepted instruction, nothing else
    src = [
        (k, p_["instruction"], p_["is_classification"])
        for k, _, p_ in records(golden_run, "candidate")
        if _ == "accepted"
    ]
    tasks = records(out, "task")
    assert [(k, p_["instruction"], p_["is_classification"]) for k, _, p_ in tasks] == src
    assert all(s == "accepted" for _, s, _ in tasks)
    assert tasks[0][2]["instances"] == [{"input": "a", "output": "Yes"}, {"input": "b", "output": "No"}]
    assert tasks[1][2]["instances"] == [{"input": "q", "output": "r"}]
    p = run_cli(
        "generate",
        "--from-run",
        str(tmp_path / "nothing"),
        "--out",
        str(tmp_path / "o2"),
        "--model",
        f"scripted:{rules}",
    )
    assert p.returncode == 2 and "not a run directory" in p.stderr and not (tmp_path / "o2").exists()


def test_alpaca_mode(tmp_path, isolated_cache):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    answer = (
        " Name a color of the sky.\n4. Input:\n<noinput>\n4. Output:\nBlue\n###\n"
        "5. Instruction: Fix the spelling in the sentence.\n5. Input:\nteh cat sat\n5. Output:\nthe cat sat\n###\n"
        "6. Instruction: Draw a map of your town.\n6. Input:\n<noinput>\n6. Output:\nok\n###\n"
        "7. Instruction: Repeat the word that is given.\n7. Input:\necho\n7. Output:\necho\n###\n"
        "8. Instruction: garbage without parts"
    )
    rules = write_rules(tmp_path / "r.jsonl", [{"contains": "List of 20 tasks", "response": answer}])
    out = tmp_path / "run"
    p = run_cli(
        "--quiet",
        "generate",
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--num-instructions",
        "2",
        "--mode",
        "alpaca",
        "--model",
        f"scripted:{rules}",
    )
    assert p.returncode == 0, p.stderr
    cands = [(p_["instruction"], s, p_["reason"]) for _, s, p_ in records(out, "candidate")]
    assert cands[:5] == [
        ("Name a color of the sky.", "accepted", None),
        ("Fix the spelling in the sentence.", "accepted", None),
        ("Draw a map of your town.", "rejected", "surplus"),
        ("Repeat the word that is given.", "rejected", "surplus"),
        ("Garbage without parts", "rejected", "surplus"),
    ]
    tasks = records(out, "task")
    assert [(p_["instruction"], p_["instances"]) for _, _, p_ in tasks] == [
        ("Name a color of the sky.", [{"input": "", "output": "Blue"}]),
        ("Fix the spelling in the sentence.", [{"input": "teh cat sat", "output": "the cat sat"}]),
    ]
    p = run_cli(
        "--quiet",
        "generate",
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--num-instructions",
        "4",
        "--mode",
        "alpaca",
        "--model",
        f"scripted:{rules}",
        "--config",
        str(write_cfg(tmp_path, {"max_empty_prompts": 2})),
    )
    assert p.returncode == 0, p.stderr
    prompt1 = [(p_["instruction"], p_["reason"]) for k, _, p_ in records(out, "candidate") if k.startswith("a000001.")]
    assert prompt1 == [
        ("Name a color of the sky.", "duplicate"),
        ("Fix the spelling in the sentence.", "duplicate"),
        ("Draw a map of your town.", "blacklist"),
        ("Repeat the word that is given.", None),
        ("Garbage without parts", "bad_format"),
    ]
    task = [(p_["instruction"], s, p_.get("reason")) for _, s, p_ in records(out, "task")][2]
    assert task == ("Repeat the word that is given.", "rejected", "no_instances")
    rej = [(p_["reason"]) for _, _, p_ in records(out, "instance_rejection")]
    assert rej == ["input_equals_output"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accepted"] == 3 and summary["prompts"] == 4  # prompts 2 and 3 accept nothing: stop
    # An Alpaca run has no classification step: --from-run treats its tasks as ordinary (input-first).
    rules2 = write_rules(
        tmp_path / "r2.jsonl",
        [{"contains": "Write examples for each of the tasks below", "response": "Example 1\nInput: q\nOutput: r"}],
    )
    p = run_cli(
        "--quiet", "generate", "--from-run", str(out), "--out", str(tmp_path / "s3"), "--model", f"scripted:{rules2}"
    )
    assert p.returncode == 0, p.stderr
    assert [(p_["is_classification"], p_["instances"]) for _, _, p_ in records(tmp_path / "s3", "task")] == [
        (False, [{"input": "q", "output": "r"}])
    ] * 3


def write_cfg(tmp: Path, d: dict) -> Path:
    p = tmp / "extra.json"
    p.write_text(json.dumps(d))
    return p


def test_truncated_policy_last_item(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    long_list = (
        "Name the largest ocean on our planet.\n10. Suggest a healthy snack for children.\n"
        "11. Describe the smell of rain " + " ".join(["very"] * 40)
    )
    rules = write_rules(tmp_path / "r.jsonl", [{"contains": "Continue the list", "response": long_list}])
    outs = {}
    for policy in ("response", "last_item"):
        cfg = write_cfg(tmp_path, {"bootstrap_max_tokens": 30, "max_empty_prompts": 1, "truncated_policy": policy})
        out = tmp_path / policy
        # classify/instances have no rule: empty answers -> not classification, no instances
        p = run_cli(
            "--quiet",
            "generate",
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--num-instructions",
            "5",
            "--model",
            f"scripted:{rules}",
            "--config",
            str(cfg),
        )
        assert p.returncode == 0, p.stderr
        outs[policy] = [(s, p_["reason"]) for _, s, p_ in records(out, "candidate") if p_["prompt"] == 0]
    assert outs["response"] == [("rejected", "truncated")] * 3
    assert outs["last_item"] == [("accepted", None), ("accepted", None), ("rejected", "truncated")]


def test_raw_prompt_style_sends_completion_prompts(tmp_path, golden_run):
    seeds, rules, cfg = tmp_path / "seeds.jsonl", tmp_path / "rules.jsonl", tmp_path / "cfg.json"
    out, log = tmp_path / "raw", tmp_path / "raw.jsonl"
    p = run_cli(
        *generate_args(seeds, rules, cfg, out),
        "--prompt-style",
        "raw",
        "--no-cache",
        env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)},
    )
    assert p.returncode == 0, p.stderr
    reqs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(reqs) == 14 and all(r["messages"] is None and r["prompt"] for r in reqs)
    assert reqs[0]["prompt"].endswith("\n9.") and reqs[0]["params"]["top_p"] == 0.5
    # same text, same rules: the same records as the chat-style golden run
    assert records(out, "candidate") == records(golden_run, "candidate")
    assert records(out, "task") == records(golden_run, "task")
