"""Settings of evaluate superni, evaluate user-oriented and compare: bad --config files exit 2
naming the file and line before anything is written; a flag, --set and a config file resolve to
the same settings; the Python API (instructforge.api.evaluate) gives what the CLI gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_ev_compare import eval_dir
from test_ev_user_oriented import JUDGE_RULES, answer_rules

from conftest import run_cli, write_rules
from instructforge.api import evaluate as api
from instructforge.core.errors import InputError
from instructforge.evaluate.compare import CompareConfig
from instructforge.evaluate.superni import SuperNIConfig
from instructforge.evaluate.user_oriented import UserOrientedConfig, load_items

TASKS = ["task1612_sick_label_classification", "task288_gigaword_summarization"]


@pytest.fixture
def preds(shared_data, tmp_path) -> Path:
    """Predictions for the first 3 instances of TASKS (the reference, or nothing)."""
    rows = []
    for t in TASKS:
        inst = json.loads((shared_data / "superni" / f"{t}.json").read_text())["Instances"][:3]
        rows += [{"id": i["id"], "prediction": i["output"][0] if t == TASKS[0] else "no"} for i in inst]
    p = tmp_path / "preds.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


@pytest.fixture
def uo_rules(shared_data, tmp_path) -> tuple[Path, str]:
    data = shared_data / "self-instruct" / "user_oriented_instructions.jsonl"
    rules = write_rules(tmp_path / "rules.jsonl", JUDGE_RULES + answer_rules(load_items(data, 5)))
    return data, f"scripted:{rules}"


def files(d: Path) -> dict[str, str]:
    # usage.json is the call ledger (docs/usage.md): later runs of the same settings hit the cache
    return {p.name: p.read_text() for p in sorted(d.iterdir()) if p.name != "usage.json"}


# -- bad config files ------------------------------------------------------------------------------

BAD = {  # command -> [(file text, message); the bad key is on line 2]
    "superni": [
        (
            "max_tokens: 10\nmax_instance: 3\n",
            "unknown setting 'max_instance' for evaluate superni (did you mean 'max_instances'?)",
        ),
        ("max_tokens: 10\nmax_instances: many\n", "max_instances: expected integer, got the text 'many'"),
        ("max_tokens: 10\nmax_instances: 0\n", "max_instances: 0 is out of range [1, inf]"),
        ("max_tokens: 10\nprompt_format: json\n", "prompt_format: the text 'json' is not one of chat, raw"),
    ],
    "user-oriented": [
        ("max_tokens: 10\njudge_mehtod: text\n", "unknown setting 'judge_mehtod'"),
        ("max_tokens: 10\nmax_instructions: 2.5\n", "max_instructions: expected integer | null"),
        ("max_tokens: 10\njudge_logprobs: 0\n", "judge_logprobs: 0 is out of range [1, inf]"),
    ],
    "compare": [
        ("seed: 1\nbootstrp: 10\n", "unknown setting 'bootstrp' for compare (did you mean 'bootstrap'?)"),
        ("seed: 1\nbootstrap: 1.5\n", "bootstrap: expected integer, got 1.5"),
        ("seed: 1\ntie_threshold: -0.5\n", "tie_threshold: -0.5 is out of range [0, inf]"),
    ],
}


@pytest.mark.parametrize("command,text,msg", [(c, t, m) for c, cases in BAD.items() for t, m in cases])
def test_bad_config_exits_2_with_file_and_line_nothing_written(
    command, text, msg, shared_data, preds, uo_rules, tmp_path
):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    a, b = eval_dir(tmp_path / "a", {"t1": 1.0}), eval_dir(tmp_path / "b", {"t1": 2.0})
    args = {
        "superni": [
            "evaluate",
            "superni",
            "--tasks",
            str(shared_data / "superni"),
            "--predictions",
            str(preds),
            "--out",
            str(out),
        ],
        "user-oriented": [
            "evaluate",
            "user-oriented",
            "--data",
            str(uo_rules[0]),
            "--model",
            uo_rules[1],
            "--judge",
            uo_rules[1],
            "--out",
            str(out),
        ],
        "compare": ["compare", str(a), str(b), "--out", str(out)],
    }[command]
    p = run_cli(*args, "--config", str(cfg))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"error: {cfg}:2: {msg}" or p.stderr.strip().startswith(f"error: {cfg}:2: {msg}")
    assert len(p.stderr.strip().splitlines()) == 1
    assert not out.exists() and [x.name for x in b.iterdir()] == ["results.json"]


def test_bad_values_from_python_name_the_class_and_field():
    for make, msg in [
        (lambda: SuperNIConfig(max_instances=0), "SuperNIConfig: max_instances: 0 is out of range"),
        (lambda: SuperNIConfig(prompt_format="json"), "SuperNIConfig: prompt_format"),
        (lambda: UserOrientedConfig(judge_method="vote"), "UserOrientedConfig: judge_method"),
        (lambda: UserOrientedConfig(max_tokens="long"), "UserOrientedConfig: max_tokens: expected integer"),
        (lambda: CompareConfig(bootstrap=-1), "CompareConfig: bootstrap: -1 is out of range"),
    ]:
        with pytest.raises(InputError, match=msg):
            make()
    # what --only and --stop give on the command line, read the same from Python
    c = SuperNIConfig(only=["a, b", "c"], stop=["\\n"], max_tokens=8)
    assert c.only == ["a", "b", "c"] and c.stop == ["\n"]


# -- one resolved config, however it is given ---------------------------------------------------------


def test_superni_flag_set_and_file_give_the_same_config(shared_data, preds, tmp_path):
    tasks = str(shared_data / "superni")
    (tmp_path / "cfg.yaml").write_text(f"max_instances: 3\nonly: [{TASKS[0]}, {TASKS[1]}]\nnum_pos_examples: 1\n")
    (tmp_path / "g.yaml").write_text("evaluate:\n  superni:\n    max_instances: 3\n    num_pos_examples: 1\n")
    ways = {
        "flags": ["--max-instances", "3", "--only", ",".join(TASKS), "--num-pos-examples", "1"],
        "set": ["--set", "max_instances=3", "--set", f"only=[{TASKS[0]}, {TASKS[1]}]", "--set", "num_pos_examples=1"],
        "file": ["--config", str(tmp_path / "cfg.yaml")],
        # the global file, overridden: its max_instances by --set, that by the flag
        "global": ["--only", TASKS[0], "--only", TASKS[1], "--set", "max_instances=5", "--max-instances", "3"],
    }
    seen = {}
    for name, extra in ways.items():
        pre = ["--config", str(tmp_path / "g.yaml")] if name == "global" else []
        out = tmp_path / name
        run_cli(
            *pre,
            "evaluate",
            "superni",
            "--tasks",
            tasks,
            "--predictions",
            str(preds),
            "--out",
            str(out),
            *extra,
            check=True,
        )
        seen[name] = files(out)
    assert seen["flags"] == seen["set"] == seen["file"] == seen["global"]
    cfg = yaml.safe_load(seen["flags"]["config.yaml"])
    assert cfg["superni"]["max_instances"] == 3 and cfg["superni"]["only"] == TASKS and cfg["model"] is None
    assert json.loads(seen["flags"]["results.json"])["n_instances"] == 6


def test_user_oriented_flag_set_and_file_give_the_same_config(uo_rules, tmp_path, isolated_cache):
    data, spec = uo_rules
    (tmp_path / "cfg.yaml").write_text(f"judge: '{spec}'\nmax_instructions: 3\njudge_method: text\n")
    ways = {
        "flags": ["--judge", spec, "--max-instructions", "3", "--judge-method", "text"],
        "set": ["--set", f"judge={spec}", "--set", "max_instructions=3", "--set", "judge_method=text"],
        "file": ["--config", str(tmp_path / "cfg.yaml")],
    }
    seen = {}
    for name, extra in ways.items():
        out = tmp_path / name
        run_cli(
            "evaluate", "user-oriented", "--data", str(data), "--model", spec, "--out", str(out), *extra, check=True
        )
        seen[name] = files(out)
        seen[name]["results.json"] = json.loads(seen[name]["results.json"])
        seen[name]["results.json"].pop("generation")  # call statistics: the later runs hit the cache
    assert seen["flags"] == seen["set"] == seen["file"]
    cfg = yaml.safe_load(seen["flags"]["config.yaml"])
    assert cfg["user_oriented"]["judge_method"] == "text" and cfg["judge"]["model"] == spec
    assert seen["flags"]["results.json"]["n"] == 3 and seen["flags"]["results.json"]["methods"]["text"] == 3


def test_compare_flag_set_and_file_give_the_same_result(tmp_path):
    a = eval_dir(tmp_path / "a", {"t1": 10.0, "t2": 20.0, "t3": 30.0})
    b = eval_dir(tmp_path / "b", {"t1": 10.4, "t2": 19.5, "t3": 31.0})
    (tmp_path / "cfg.json").write_text('{"tie_threshold": 0.5, "bootstrap": 50, "seed": 3}')
    outs = []
    for name, extra in {
        "flags": ["--tie-threshold", "0.5", "--bootstrap", "50", "--seed", "3"],
        "set": ["--set", "tie_threshold=0.5", "--set", "bootstrap=50", "--set", "seed=3"],
        "file": ["--config", str(tmp_path / "cfg.json")],
    }.items():
        run_cli("compare", str(a), str(b), "--out", str(tmp_path / f"{name}.json"), *extra, check=True)
        outs.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert outs[0] == outs[1] == outs[2]
    assert outs[0]["tie_threshold"] == 0.5 and outs[0]["bootstrap"]["seed"] == 3 and outs[0]["tie"] == 0.6667


# -- the Python API gives what the CLI gives ----------------------------------------------------------


def test_api_superni_predictions_equals_cli(shared_data, preds, tmp_path):
    tasks = shared_data / "superni"
    run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(tasks),
        "--predictions",
        str(preds),
        "--out",
        str(tmp_path / "cli"),
        "--max-instances",
        "3",
        "--only",
        ",".join(TASKS),
        check=True,
    )
    res = api.evaluate_superni(
        tasks, out=tmp_path / "api", predictions=preds, config=SuperNIConfig(max_instances=3, only=TASKS)
    )
    assert files(tmp_path / "api") == files(tmp_path / "cli")
    assert res == json.loads((tmp_path / "cli" / "results.json").read_text())
    with pytest.raises(InputError, match="give a model or predictions, not both"):
        api.evaluate_superni(tasks, out=tmp_path / "x", predictions=preds, model="openai:m")
    assert not (tmp_path / "x").exists()


def test_api_superni_model_equals_cli(shared_data, tmp_path, isolated_cache):
    rules = write_rules(
        tmp_path / "rules.jsonl",
        [{"contains": "sentence_A", "response": "2"}, {"default": True, "response": "a title"}],
    )
    tasks = shared_data / "superni"
    run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(tasks),
        "--model",
        f"scripted:{rules}",
        "--out",
        str(tmp_path / "cli"),
        "--max-instances",
        "2",
        "--only",
        ",".join(TASKS),
        "--max-tokens",
        "9",
        "--no-cache",
        check=True,
    )
    res = api.evaluate_superni(
        tasks,
        out=tmp_path / "api",
        model=f"scripted:{rules}",
        cache=False,
        config=SuperNIConfig(max_instances=2, only=TASKS, max_tokens=9),
    )
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert res["generation"]["requests"] == cli["generation"]["requests"] == 4
    res.pop("generation"), cli.pop("generation")
    assert res == cli
    for name in ("config.yaml", "predictions.jsonl"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "cli" / name).read_text()


def test_api_user_oriented_equals_cli(uo_rules, tmp_path, isolated_cache):
    data, spec = uo_rules
    run_cli(
        "evaluate",
        "user-oriented",
        "--data",
        str(data),
        "--model",
        spec,
        "--judge",
        spec,
        "--max-instructions",
        "5",
        "--out",
        str(tmp_path / "cli"),
        check=True,
    )
    res = api.evaluate_user_oriented(
        data, out=tmp_path / "api", model=spec, config=UserOrientedConfig(judge=spec, max_instructions=5)
    )
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert res["generation"]["judge"]["requests"] == 5 + 3  # first-token logprobs, then text for three
    res.pop("generation"), cli.pop("generation")
    assert res == cli and res["distribution"] == {"A": 1, "B": 1, "C": 1, "D": 1}
    for name in ("config.yaml", "ratings.jsonl"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "cli" / name).read_text()
    with pytest.raises(InputError, match="no judge model"):
        api.evaluate_user_oriented(data, out=tmp_path / "x", model=spec)
    assert not (tmp_path / "x").exists()


def test_api_compare_equals_cli(tmp_path):
    a = eval_dir(tmp_path / "base", {"t1": 10.0, "t2": 20.0, "t3": 30.0, "t4": 40.0})
    b = eval_dir(tmp_path / "tuned", {"t1": 15.0, "t2": 20.0, "t3": 25.0, "t4": 50.0})
    run_cli("compare", str(a), str(b), "--bootstrap", "200", "--out", str(tmp_path / "cli.json"), check=True)
    res = api.compare(a, b, config=CompareConfig(bootstrap=200))  # default out: next to B
    assert res == json.loads((tmp_path / "cli.json").read_text())
    assert json.loads((b / "compare_vs_base.json").read_text()) == res
