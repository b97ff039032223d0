"""Settings of ``induce`` and ``induction evaluate`` (issue 13): bad config files stop
with ``FILE:LINE`` before anything is written; a flag, ``--set`` and a config file resolve to the
same config.yaml; the Python API (instructforge.api.induction) and the CLI give the same results
on the scripted backend. ``dedup``'s are in tests/test_novelty_cli.py."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import yaml

from conftest import run_cli, write_rules
from instructforge.api import induction as api
from instructforge.core.errors import InputError
from instructforge.induction.evaluate import EvalConfig
from instructforge.induction.execute import ExecuteConfig
from instructforge.induction.induce import InduceConfig
from instructforge.induction.metrics import METRICS, MetricName
from instructforge.induction.search import SearchConfig

pytestmark = pytest.mark.timeout(300)

RULES = [
    {"contains": "The instruction I gave my friend was", "response": [" Write the word in capitals", " Say it"]},
    {"regex": r"Instruction: Write the word in capitals\nInput: (cat|dog)\n", "response": "CAT!"},
    {"default": True, "response": "no idea"},
]


def _write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    words = ["cat", "dog", "emu", "fox"]
    _write(
        d / "raw" / "execute" / "shout.json",
        {"examples": {str(i + 1): {"input": w, "output": w.upper()} for i, w in enumerate(words)}},
    )
    pool = ["ant", "bee", "cow", "doe", "eel", "gnu", "hen", "jay"]
    _write(
        d / "raw" / "induce" / "shout.json",
        {"examples": {str(i + 1): {"input": w, "output": w.upper()} for i, w in enumerate(pool)}},
    )
    _write(d / "annotations" / "shout.json", {"annotations": ["Capitalise the word."]})
    return d


@pytest.fixture
def rules(tmp_path):
    return write_rules(tmp_path / "rules.jsonl", RULES)


@pytest.fixture
def demo_dir(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "shout.jsonl").write_text(
        "".join(json.dumps({"input": w, "output": w.upper()}) + "\n" for w in ["ant", "bee", "cow", "doe", "eel"]),
        encoding="utf-8",
    )
    return d


def _one_line_error(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# -- bad config files: exit 2, FILE:LINE, nothing written --------------------------------------

BAD = {  # command -> (unknown key, wrong type, out of range); each on line 3 of its file
    "induction evaluate": ({"num_promts": 3}, {"num_prompts": "three"}, {"num_prompts": 0}),
    "induce": ({"kk": 3}, {"k": 2.5}, {"k": 65}),
}


@pytest.mark.parametrize("command", list(BAD))
@pytest.mark.parametrize("case", [0, 1, 2], ids=["unknown", "type", "range"])
def test_bad_config_file_exit_2_file_line_nothing_written(tmp_path, command, case, data_dir, rules, demo_dir):
    bad = BAD[command][case]
    cfg = tmp_path / "bad.yaml"
    # line 2 is a valid setting of each command (so the file reads as flat settings)
    valid = {"induction evaluate": "test_seed: 0", "induce": "seed: 0"}[command]
    cfg.write_text(f"# settings\n{valid}\n" + yaml.safe_dump(bad), encoding="utf-8")
    out = tmp_path / "out"
    args = {
        "induction evaluate": [
            "induction",
            "evaluate",
            "--data",
            str(data_dir),
            "--out",
            str(out),
            "--model",
            f"scripted:{rules}",
        ],
        "induce": ["induce", "--as-seeds", str(demo_dir), "--out", str(out), "--model", f"scripted:{rules}"],
    }[command]
    line = _one_line_error(run_cli(*args, "--config", str(cfg)))
    assert f"{cfg}:3: " in line
    name = next(iter(bad))
    assert name in line
    if case == 0:
        assert "unknown setting" in line and "did you mean" in line
    else:
        assert ("expected" if case == 1 else "out of range") in line
    assert not out.exists()


def test_nested_unknown_setting_names_the_closest(tmp_path, data_dir, rules):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("num_prompts: 2\nsearch:\n  num_candidats: 4\n", encoding="utf-8")
    line = _one_line_error(
        run_cli("induction", "evaluate", "--data", str(data_dir), "--out", str(tmp_path / "o"), "--config", str(cfg))
    )
    assert line.startswith(f"error: {cfg}:") and "did you mean 'search.num_candidates'" in line
    assert not (tmp_path / "o").exists()


def test_flat_file_read_as_sections_is_an_error_not_ignored(tmp_path, data_dir, rules):
    # `induce:` alone is also the name of a command: config.file_source reads the file as command
    # sections; for `induction evaluate` that must not silently drop induce.k
    cfg = tmp_path / "c.yaml"
    cfg.write_text("# mine\ninduce:\n  k: 3\n", encoding="utf-8")
    line = _one_line_error(
        run_cli(
            "induction",
            "evaluate",
            "--data",
            str(data_dir),
            "--out",
            str(tmp_path / "o"),
            "--model",
            f"scripted:{rules}",
            "--config",
            str(cfg),
        )
    )
    assert f"{cfg}:2: 'induce' alone reads as the 'induce' command's section" in line and "induction: evaluate:" in line
    assert not (tmp_path / "o").exists()


def test_python_configs_are_checked():
    with pytest.raises(InputError, match="InduceConfig: k: 0 is out of range"):
        InduceConfig(k=0)
    with pytest.raises(InputError, match="SearchConfig: eta"):
        SearchConfig(eta=1)  # eta 1 would never end the successive halving
    with pytest.raises(InputError, match="SearchConfig: metric"):
        SearchConfig(metric="bleu")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="ExecuteConfig: prompt_format"):
        ExecuteConfig(prompt_format="json")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="EvalConfig: induce must be a InduceConfig"):
        EvalConfig(induce={"k": 3})  # type: ignore[arg-type]
    assert set(typing.get_args(MetricName)) == set(METRICS)


# -- flag, --set and config file resolve to the same config.yaml -------------------------------


def test_evaluate_flag_set_and_file_give_the_same_config(tmp_path, data_dir, rules):
    base = [
        "induction",
        "evaluate",
        "--data",
        str(data_dir),
        "--model",
        f"scripted:{rules}",
        "--no-cache",
        "--no-bertscore",
    ]
    flat = tmp_path / "flat.yaml"
    flat.write_text("num_prompts: 2\nhuman_baseline: false\ninduce:\n  k: 3\nsearch:\n  metric: f1\n", encoding="utf-8")
    sections = tmp_path / "sections.yaml"
    sections.write_text(
        yaml.safe_dump(
            {
                "induction": {
                    "evaluate": {
                        "num_prompts": 2,
                        "human_baseline": False,
                        "induce": {"k": 3},
                        "search": {"metric": "f1"},
                    }
                }
            }
        )
    )
    runs = {
        "flags": [
            *base,
            "--out",
            str(tmp_path / "a"),
            "--num-prompts",
            "2",
            "--no-human",
            "--k",
            "3",
            "--metric",
            "f1",
        ],
        "set": [
            *base,
            "--out",
            str(tmp_path / "b"),
            "--set",
            "num_prompts=2",
            "--set",
            "human_baseline=false",
            "--set",
            "induce.k=3",
            "--set",
            "search.metric=f1",
        ],
        "file": [*base, "--out", str(tmp_path / "c"), "--config", str(flat)],
        "global": ["--config", str(sections), *base, "--out", str(tmp_path / "d")],
    }
    texts = {}
    for name, args in runs.items():
        r = run_cli(*args)
        assert r.returncode == 0, (name, r.stderr)
        texts[name] = (tmp_path / args[args.index("--out") + 1] / "config.yaml").read_text()
    assert len(set(texts.values())) == 1
    got = yaml.safe_load(texts["flags"])["induction"]["evaluate"]
    assert (got["num_prompts"], got["human_baseline"], got["induce"]["k"], got["search"]["metric"]) == (
        2,
        False,
        3,
        "f1",
    )
    assert got["model"] == f"scripted:{rules}" and got["cache"] is False
    # the written config.yaml is a valid --config for the same command: same settings again
    r = run_cli(*base, "--out", str(tmp_path / "e"), "--config", str(tmp_path / "a" / "config.yaml"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "e" / "config.yaml").read_text() == texts["flags"]


def test_induce_as_seeds_flag_set_and_file_give_the_same_config(tmp_path, demo_dir, rules):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("k: 4\nprompt_format: chat\nmodel: scripted:" + str(rules) + "\n", encoding="utf-8")
    base = ["induce", "--as-seeds", str(demo_dir), "--no-cache"]
    runs = {
        "a": ["--k", "4", "--prompt-format", "chat", "--model", f"scripted:{rules}"],
        "b": ["--set", "k=4", "--set", "prompt_format=chat", "--set", f"model=scripted:{rules}"],
        "c": ["--config", str(cfg)],
    }
    for name, extra in runs.items():
        run_cli(*base, "--out", str(tmp_path / f"{name}.jsonl"), *extra, check=True)
    texts = {(tmp_path / f"{name}.config.yaml").read_text() for name in runs}
    assert len(texts) == 1
    got = yaml.safe_load(texts.pop())["induce"]
    assert (got["k"], got["prompt_format"], got["model"]) == (4, "chat", f"scripted:{rules}")
    assert len({(tmp_path / f"{name}.jsonl").read_text() for name in runs}) == 1


# -- the Python API and the CLI give the same results -------------------------------------------


def _stable(results: dict) -> dict:
    return {k: v for k, v in results.items() if k not in ("seconds", "model_stats")}


def test_evaluate_api_equals_cli(tmp_path, data_dir, rules, isolated_cache):
    r = run_cli(
        "induction",
        "evaluate",
        "--data",
        str(data_dir),
        "--out",
        str(tmp_path / "cli"),
        "--model",
        f"scripted:{rules}",
        "--no-cache",
        "--num-prompts",
        "3",
        "--no-bertscore",
        "--save-predictions",
    )
    assert r.returncode == 0, r.stderr
    got = api.evaluate_induction(
        data_dir,
        out=tmp_path / "api",
        tasks=["shout"],
        model=f"scripted:{rules}",
        cache=False,
        config=EvalConfig(num_prompts=3, bertscore=False, save_predictions=True),
    )
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert _stable(got) == _stable(cli) == _stable(json.loads((tmp_path / "api" / "results.json").read_text()))
    assert got["tasks"]["shout"]["execution_accuracy"] == pytest.approx(0.25)
    for name in ("config.yaml", "table.md", "predictions.jsonl"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "cli" / name).read_text()


def test_evaluate_api_checks_before_writing(tmp_path, data_dir):
    with pytest.raises(InputError, match="unknown task 'nope'"):
        api.evaluate_induction(data_dir, out=tmp_path / "o", tasks=["shout", "nope"], model="scripted:/no/such/file")
    with pytest.raises(InputError, match="fewer than k=9"):
        api.evaluate_induction(
            data_dir,
            out=tmp_path / "o",
            model="scripted:/no/such/file",
            config=EvalConfig(induce=InduceConfig(k=9), bertscore=False),
        )
    assert not (tmp_path / "o").exists()


def test_induce_api_equals_cli(tmp_path, rules):
    demos = [(w, w.upper()) for w in ["cat", "dog", "emu", "fox", "gnu", "hen"]]
    f = tmp_path / "d.jsonl"
    f.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in demos), encoding="utf-8")
    r = run_cli("induce", "--demos", str(f), "--model", f"scripted:{rules}", "--no-cache", "--json")
    assert r.returncode == 0, r.stderr
    from_file = api.induce(f, model=f"scripted:{rules}", cache=False)
    from_pairs = api.induce(demos, model=f"scripted:{rules}", cache=False)
    assert (
        json.loads(r.stdout)
        == from_file.as_dict()
        == from_pairs.as_dict()
        == {
            "instruction": "Write the word in capitals",
            "score": None,
            "score_kind": None,
            "method": None,
            "evaluated": 0,
            "candidates": [
                {
                    "text": "Write the word in capitals",
                    "score": None,
                    "evaluated": 0,
                    "source": "greedy",
                    "chosen": True,
                }
            ],
            "calls": 1,
        }
    )
    assert from_pairs.stats is not None and from_pairs.stats.requests == 1
    # a search asked for with too few demonstrations: greedy, and the result says why
    res = api.induce(demos, model=f"scripted:{rules}", cache=False, search=SearchConfig(num_candidates=3))
    assert res.candidates is None and "search needs at least k+5" in (res.note or "")
    with pytest.raises(InputError, match="demos: 2 demonstrations, fewer than k=5"):
        api.induce(demos[:2], model="scripted:/no/such/file")
    with pytest.raises(InputError, match=r"demos\[0\]"):
        api.induce([("only input",)], model="scripted:/no/such/file")  # type: ignore[list-item]


def test_induce_search_api_equals_cli(tmp_path):
    rules = write_rules(
        tmp_path / "r.jsonl",
        [
            {"contains": "The instruction I gave my friend was", "response": [" Say no", " Always answer yes."]},
            {"contains": "Instruction: Always answer yes.\n", "response": "yes"},
            {"default": True, "response": "no"},
        ],
    )
    demos = [(str(n), "yes") for n in range(16)]
    f = tmp_path / "d.jsonl"
    f.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in demos), encoding="utf-8")
    r = run_cli(
        "induce",
        "--demos",
        str(f),
        "--model",
        f"scripted:{rules}",
        "--no-cache",
        "--json",
        "--num-candidates",
        "2",
        "--set",
        "search.max_eval=8",
    )
    assert r.returncode == 0, r.stderr
    res = api.induce(f, model=f"scripted:{rules}", cache=False, search=SearchConfig(num_candidates=2, max_eval=8))
    assert json.loads(r.stdout) == res.as_dict()
    assert res.instruction == "Always answer yes." and res.accuracy == 1.0 and res.n_eval == 8


def test_induce_as_seeds_api_equals_cli(tmp_path, demo_dir, rules):
    run_cli(
        "induce",
        "--as-seeds",
        str(demo_dir),
        "--out",
        str(tmp_path / "cli.jsonl"),
        "--model",
        f"scripted:{rules}",
        "--no-cache",
        check=True,
    )
    path = api.induce_as_seeds(demo_dir, out=tmp_path / "api.jsonl", model=f"scripted:{rules}", cache=False)
    assert path == tmp_path / "api.jsonl"
    assert path.read_text() == (tmp_path / "cli.jsonl").read_text()
    assert json.loads(path.read_text())["instruction"] == "Write the word in capitals"
    assert (tmp_path / "api.config.yaml").read_text() == (tmp_path / "cli.config.yaml").read_text()


def test_score_api_equals_cli(tmp_path, data_dir):
    p = tmp_path / "p.jsonl"
    p.write_text('{"id": "1", "prediction": "CAT"}\n{"id": "2", "prediction": "cat"}\n', encoding="utf-8")
    r = run_cli("induction", "score", "--data", str(data_dir), "--task", "shout", "--predictions", str(p), "--json")
    assert r.returncode == 0, r.stderr
    got = api.score_induction(data_dir, task="shout", predictions=p)
    assert (
        json.loads(r.stdout)
        == {k: got[k] for k in ("task", "n", "accuracy")}
        == {"task": "shout", "n": 2, "accuracy": 0.5}
    )
    assert got["missing"] == 2 and got["metric"] == "exact_match"
    assert api.score_induction(data_dir, task="shout", predictions={"1": "CAT", "2": "cat"}) == got
    with pytest.raises(InputError, match="unknown id '9'"):
        api.score_induction(data_dir, task="shout", predictions={"9": "x"})
