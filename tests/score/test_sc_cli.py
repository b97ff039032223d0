"""The real ``instructforge score`` CLI on the scripted judge: stored score records with the
values the rules imply, a rerun that asks nothing, data files in three formats, and bad input
(exit 2, one line naming the file, nothing written)."""

from __future__ import annotations

import json

import pytest
from sc_helpers import N_INSTANCES, TASKS, expected, judge_rules, make_run, score_rows, tree

from conftest import run_cli, write_rules
from instructforge.data.records import Triple
from instructforge.data.runrecords import score_key
from instructforge.data.store import RunStore
from instructforge.quality.checks import run_checks
from instructforge.quality.config import ScoreConfig


@pytest.fixture
def scored(tmp_path, isolated_cache):
    run = make_run(tmp_path / "run")
    judge = judge_rules(tmp_path / "judge.jsonl")
    log = tmp_path / "calls.jsonl"
    p = run_cli("score", str(run), "--judge", judge, "--chunk-size", "3", env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)})
    assert p.returncode == 0, p.stderr
    return run, judge, log, p


def test_sc_scores_stored_with_the_values_the_judge_gave(scored):
    run, _, log, p = scored
    with RunStore(run, create=False) as st:
        recs = {r.key: r for r in st.scores()}
        meta = st.get_meta("score")
    assert len(recs) == N_INSTANCES and len(log.read_text().splitlines()) == 7 * N_INSTANCES
    for key, ins, insts in TASKS:
        for i, (inp, out) in enumerate(insts):
            r, want = recs[score_key(key, i)], expected(ins, inp, out)
            assert (r.task_key, r.index, r.rew_source) == (key, i, "overall")
            for f in ("naturalness", "coherence", "understandability", "rew", "reward"):
                assert getattr(r, f) == pytest.approx(want[f], abs=1e-9), (key, i, f)
            for q, v in want["audit_p"].items():
                assert r.audit_p[q] is None if v is None else r.audit_p[q] == pytest.approx(v, abs=1e-9)
            assert r.audit_yes == {q: None if v is None else v >= 0.5 for q, v in want["audit_p"].items()}
            assert r.flags == run_checks(Triple(ins, inp, out), ScoreConfig())
    # the hand-made records trip the checks they were made for
    assert [f.reason for f in recs[score_key("p000002.00", 0)].flags] == ["repeated_line"]
    assert [f.reason for f in recs[score_key("p000003.00", 0)].flags] == ["empty_output"]
    assert [f.reason for f in recs[score_key("p000003.01", 0)].flags] == ["truncated_output"]
    assert meta["scored"] == N_INSTANCES and meta["stored"] == 0 and meta["judge"].startswith("scripted:")
    assert f"{N_INSTANCES} scored, 0 already stored, 0 failed" in p.stdout


def test_sc_outputs_summary_and_jsonl(scored):
    run, _, _, _ = scored
    rows = [json.loads(x) for x in (run / "score" / "scores.jsonl").read_text().splitlines()]
    summary = json.loads((run / "score" / "summary.json").read_text())
    assert [r["key"] for r in rows] == sorted(score_key(k, i) for k, _, insts in TASKS for i in range(len(insts)))
    walrus = next(r for r in rows if "walrus" in r["output"])
    assert walrus["audit"]["output"]["yes"] is False and walrus["all_valid"] is False
    assert summary["items"] == summary["scored"] == N_INSTANCES
    assert summary["checks"]["by_reason"] == {"empty_output": 1, "repeated_line": 1, "truncated_output": 1}
    a = summary["audit"]
    assert a["instruction"]["yes"] + a["instruction"]["no"] + a["instruction"]["undecided"] == N_INSTANCES
    assert (a["instruction"]["paper"], a["input"]["paper"], a["output"]["paper"], a["all"]["paper"]) == (
        0.92,
        0.79,
        0.58,
        0.54,
    )
    # zebra answers outrank walrus answers in every feedback score: lowest is walrus, highest zebra
    assert "walrus" in summary["lowest"][0]["output"] and "zebra" in summary["highest"][0]["output"]
    assert sum(summary["distributions"]["reward"]["hist"]["counts"]) == N_INSTANCES
    cfg = (run / "score" / "config.yaml").read_text()
    assert "threshold: 0.5" in cfg and "w_understandability: -0.4421" in cfg


def test_sc_rerun_is_free_and_changes_nothing(scored, tmp_path):
    run, judge, _, _ = scored
    before = score_rows(run)
    log = tmp_path / "again.jsonl"
    p = run_cli("score", str(run), "--judge", judge, "--no-cache", env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)})
    assert p.returncode == 0, p.stderr
    assert not log.exists()  # no question asked, even without the call cache
    assert score_rows(run) == before and f"0 scored, {N_INSTANCES} already stored" in p.stdout


def test_sc_changed_record_or_judge_is_rescored(scored, tmp_path):
    run, judge, _, _ = scored
    with RunStore(run, create=False) as st:
        (t,) = [t for t in st.tasks() if t.key == "p000001.01"]
        t.instances[0].output = "Blue is a primary color too, walrus."
        with st.transaction():
            st.replace(t)
    log = tmp_path / "again.jsonl"
    p = run_cli("score", str(run), "--judge", judge, "--no-cache", env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)})
    assert p.returncode == 0 and f"1 scored, {N_INSTANCES - 1} already stored" in p.stdout
    assert len(log.read_text().splitlines()) == 7
    with RunStore(run, create=False) as st:
        (r,) = [r for r in st.scores() if r.task_key == "p000001.01"]
    assert r.reward == pytest.approx(expected(t.instruction, "", "Blue is a primary color too, walrus.")["reward"])
    # another threshold is another scoring config: everything is redone (answers from the cache)
    log3 = tmp_path / "third.jsonl"
    p = run_cli(
        "score", str(run), "--judge", judge, "--threshold", "0.9", env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log3)}
    )
    assert p.returncode == 0 and f"{N_INSTANCES} scored, 0 already stored" in p.stdout
    # only the record scored with --no-cache above is asked again, and only the 5 questions that
    # show its new output (the instruction and input questions are the old record's, cached)
    assert len(log3.read_text().splitlines()) == 5


def test_sc_data_files_three_formats(tmp_path, isolated_cache):
    recs = [{"instruction": ins, "input": inp, "output": out} for _, ins, insts in TASKS for inp, out in insts]
    files = {
        "a.json": json.dumps(recs, indent=1),
        "a.jsonl": "".join(json.dumps(r) + "\n" for r in recs),
        "m.jsonl": "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": r["instruction"]},
                        {"role": "assistant", "content": r["output"]},
                    ]
                }
            )
            + "\n"
            for r in recs
        ),
    }
    judge = judge_rules(tmp_path / "judge.jsonl")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        out = tmp_path / f"out_{name}"
        p = run_cli("score", "--data", str(tmp_path / name), "--out", str(out), "--judge", judge)
        assert p.returncode == 0, p.stderr
        rows = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
        assert [(r["instruction"], r["output"]) for r in rows] == [(r["instruction"], r["output"]) for r in recs]
        assert [r["record"] for r in rows] == list(range(1, len(recs) + 1))
        want_inputs = [""] * len(recs) if name == "m.jsonl" else [r["input"] for r in recs]
        assert [r["input"] for r in rows] == want_inputs
        for r in rows:
            assert r["reward"] == pytest.approx(expected(r["instruction"], r["input"], r["output"])["reward"])
        if name == "a.jsonl":
            assert [r["line"] for r in rows] == list(range(1, len(recs) + 1))
        if name == "a.json":  # indented list: each object starts on its own line
            text_lines = text.splitlines()
            assert all(text_lines[r["line"] - 1].strip() == "{" for r in rows)
        assert json.loads((out / "summary.json").read_text())["scored"] == len(recs)
        again = run_cli("score", "--data", str(tmp_path / name), "--out", str(out), "--judge", judge)
        assert again.returncode == 0 and f"0 scored, {len(recs)} already stored" in again.stdout


BAD_DATA = [
    ('{"instruction": "Say hi.", "output": "hi"}\n{"instruction": "x", "output": \n', ":2: not valid JSON"),
    ('{"instruction": "Say hi.", "output": "hi"}\n{"instruction": "Say hi."}\n', ':2: missing "output"'),
    ('{"instruction": "Say hi.", "output": 5}\n', ':1: "output" must be a string'),
    ('{"messages": [{"role": "user", "content": "hi"}]}\n', ":1: the last message must be the assistant's answer"),
    (
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'
        '{"instruction": "x", "output": "y"}\n',
        ":2: a alpaca-jsonl record in a file of messages records",
    ),
    ('[{"instruction": "a", "output": "b"},\n {"instruction": "c"}]\n', ':2: missing "output"'),
    ("", ": no records in the file"),
]


@pytest.mark.parametrize(("content", "where"), BAD_DATA)
def test_sc_bad_data_file_exit_2_nothing_written(tmp_path, content, where):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    out = tmp_path / "out"
    p = run_cli("score", "--data", str(bad), "--out", str(out), "--judge", judge_rules(tmp_path / "j.jsonl"))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"error: {bad}{where}" or p.stderr.strip().startswith(f"error: {bad}{where}")
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_sc_run_without_instances_exit_2_nothing_written(tmp_path):
    run = make_run(tmp_path / "run", tasks=[])
    before = tree(run)
    p = run_cli("score", str(run), "--judge", judge_rules(tmp_path / "j.jsonl"))
    assert p.returncode == 2 and p.stderr.strip() == (
        f"error: {run / 'run.sqlite'}: the run has no accepted instances to score yet (run `instructforge generate` first)"
    )
    assert tree(run) == before


@pytest.mark.parametrize(
    "config",
    [
        {"architectures": ["LlamaForCausalLM"]},
        None,  # not a model dir at all
    ],
)
def test_sc_reward_model_not_a_classifier_exit_2_nothing_written(tmp_path, config):
    run = make_run(tmp_path / "run")
    rm = tmp_path / "rm"
    rm.mkdir()
    if config is not None:
        (rm / "config.json").write_text(json.dumps(config))
    before = tree(run)
    p = run_cli("score", str(run), "--judge", judge_rules(tmp_path / "j.jsonl"), "--reward-model", f"hf:{rm}")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    want = (
        f"{rm / 'config.json'}: --reward-model needs a sequence-classification"
        if config
        else f"{rm}: not a transformers"
    )
    assert want in p.stderr
    assert tree(run) == before


def test_sc_usage_errors(tmp_path):
    run = make_run(tmp_path / "run")
    judge = judge_rules(tmp_path / "j.jsonl")
    before = tree(run)
    for args, msg in [
        ((), "give a RUN_DIR or --data FILE"),
        ((str(run), "--data", str(tmp_path / "j.jsonl"), "--out", str(tmp_path / "o")), "give a RUN_DIR"),
        (("--data", str(tmp_path / "j.jsonl")), "--data needs --out"),
        ((str(tmp_path / "nope"),), "not a run directory"),
    ]:
        p = run_cli("score", *args, "--judge", judge)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)
    p = run_cli("score", str(run), "--judge", judge, "--model", "hf:/x")
    assert p.returncode == 2 and "not both" in p.stderr
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("threshold: 0.5\nbogus: 1\n")
    p = run_cli("score", str(run), "--judge", judge, "--config", str(cfg))
    assert p.returncode == 2 and "cfg.yaml:2: unknown setting 'bogus'" in p.stderr
    assert tree(run) == before and not (tmp_path / "o").exists()


def test_sc_other_data_file_into_same_out_is_refused(tmp_path, isolated_cache):
    judge = judge_rules(tmp_path / "j.jsonl")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"instruction": "Say hi.", "output": "hi"}) + "\n")
    b.write_text(json.dumps({"instruction": "Say bye.", "output": "bye"}) + "\n")
    out = tmp_path / "out"
    assert run_cli("score", "--data", str(a), "--out", str(out), "--judge", judge).returncode == 0
    before = tree(out)
    p = run_cli("score", "--data", str(b), "--out", str(out), "--judge", judge)
    assert p.returncode == 2 and "holds the scores of another file" in p.stderr
    assert tree(out) == before


def test_sc_judge_errors_leave_records_unscored_exit_1(tmp_path, isolated_cache):
    """Requests the judge answers with an error: their records get no score; a rerun retries them."""
    recs = [{"instruction": f"Say the number {i}.", "output": str(i)} for i in range(4)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rules = write_rules(
        tmp_path / "j.jsonl",
        [
            {"contains": "number 2", "response": "", "finish_reason": "error"},
            {"default": True, "response": "Yes", "top_logprobs": [{"Yes": -0.1}]},
        ],
    )
    out = tmp_path / "out"
    p = run_cli("score", "--data", str(data), "--out", str(out), "--judge", f"scripted:{rules}")
    assert p.returncode == 1 and "1 instances were not scored" in p.stderr, p.stderr
    with RunStore(out, create=False) as st:
        assert sorted(r.task_key for r in st.scores()) == ["d0000001", "d0000002", "d0000004"]
    assert len((out / "scores.jsonl").read_text().splitlines()) == 3


def test_sc_help_lists_the_command():
    p = run_cli("--help")
    assert p.returncode == 0 and "score" in p.stdout
    p = run_cli("score", "--help")
    for flag in ("--data", "--out", "--judge", "--reward-model", "--threshold", "--chunk-size", "--base-url"):
        assert flag in p.stdout
