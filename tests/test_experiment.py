"""`instructforge experiment FILE` on real HTTP servers (testing/fake_openai.py answering
plausibly, in their own processes): the whole file is checked before anything runs, finished
stages are skipped, and an experiment killed in its third stage resumes there without redoing
the first two, ending with the same outputs as an uninterrupted one."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from instructforge.testing.fake_openai import server_process, server_stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(port: int, latency: tuple[float, float], slots: int):
    with server_process(
        "--plausible",
        "--port",
        str(port),
        "--latency-range",
        *map(str, latency),
        "--max-concurrency",
        str(slots),
        quiet=True,
    ) as (_, url):
        yield url


def served(url: str) -> int:
    return server_stats(url)["served"]


def experiment_file(tmp: Path, fast: int, slow: int) -> Path:
    f = tmp / "exp.yaml"
    f.write_text(f"""\
model: {{model: "openai:sim", base_url: "http://127.0.0.1:{fast}/v1", concurrency: 8}}
stages:
  - name: si
    command: generate
    settings: {{num_instructions: 12, pool_lag: 4, seed: 2}}
  - {{name: si_data, command: export, run: "{{si}}", format: alpaca}}
  - name: again
    command: generate
    from_run: "{{si}}"
    model: {{model: "openai:sim", base_url: "http://127.0.0.1:{slow}/v1", concurrency: 1}}
  - {{name: again_data, command: export, run: "{{again}}", format: messages}}
""")
    return f


def test_experiment_resumes_in_its_third_stage_after_sigkill(tmp_path):
    fast, slow = free_port(), free_port()
    exp = experiment_file(tmp_path, fast, slow)
    env = {**os.environ, "INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "killed"
    with server(fast, (0.0, 0.02), 16), server(slow, (0.3, 0.3), 1) as slow_url:
        p = subprocess.Popen(
            [sys.executable, "-m", "instructforge.cli", "--quiet", "experiment", str(exp), "--out", str(out)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while served(slow_url) < 3 and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert p.poll() is None, "the experiment ended before its third stage was interrupted"
        p.kill()
        p.wait()
    markers = {n: out / n / ".stage.json" for n in ("si", "si_data", "again")}
    assert markers["si"].is_file() and markers["si_data"].is_file() and not markers["again"].exists()
    before = {n: markers[n].stat().st_mtime_ns for n in ("si", "si_data")}
    partial = (
        json.loads((out / "again" / "summary.json").read_text()) if (out / "again" / "summary.json").exists() else None
    )
    assert partial is None  # stage 3 really was cut short
    # Resume with only the third stage's server up: stages 1-2 must not call a model at all.
    with server(slow, (0.0, 0.01), 4):
        p = run_cli("--quiet", "experiment", str(exp), "--out", str(out), env=env)
    assert p.returncode == 0, p.stderr
    assert {n: markers[n].stat().st_mtime_ns for n in ("si", "si_data")} == before
    assert markers["again"].is_file() and (out / "again_data" / ".stage.json").is_file()
    rows = json.loads((out / "experiment.json").read_text())["stages"]
    assert [r["status"] for r in rows] == ["skipped (done)", "skipped (done)", "ran", "ran"]
    # The same file, uninterrupted, elsewhere: the same data.
    ref = tmp_path / "ref"
    with server(fast, (0.0, 0.02), 16), server(slow, (0.0, 0.01), 4):
        p = run_cli(
            "--quiet",
            "experiment",
            str(exp),
            "--out",
            str(ref),
            env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache2")},
        )
    assert p.returncode == 0, p.stderr
    for name in ("si_data/data.json", "again_data/data.jsonl"):
        assert (out / name).read_text() == (ref / name).read_text() and (out / name).stat().st_size > 10
    # Run again: everything is done, nothing runs (no server is up now).
    p = run_cli("--quiet", "experiment", str(exp), "--out", str(out), env=env)
    assert p.returncode == 0, p.stderr
    assert [r["status"] for r in json.loads((out / "experiment.json").read_text())["stages"]] == ["skipped (done)"] * 4


@pytest.mark.parametrize(
    "body,expect",
    [
        ("stages:\n  - {name: a, command: generat}\n", ":2: unknown command 'generat'"),
        (
            "stages:\n  - name: a\n    command: generate\n    settings: {rouge_threshold: 2}\n",
            ":4: rouge_threshold: 2 is out of range [0, 1]",
        ),
        (
            "stages:\n  - name: a\n    command: generate\n    settings:\n      num_instructons: 3\n",
            ":5: unknown setting 'num_instructons' for generate (did you mean 'num_instructions'?)",
        ),
        ("stages:\n  - {name: a, command: export, run: '{b}'}\n", ":2: {b} is not an earlier stage"),
        ("stages:\n  - {name: a, command: export}\n", ":2: export needs 'run'"),
        ("stages:\n  - {name: a, command: export, run: x, colour: red}\n", ":2: export takes no 'colour'"),
        ("model: {concurrency: 0}\nstages:\n  - {name: a, command: generate}\n", ":1: concurrency: 0 is out of range"),
        ("outt: x\nstages: []\n", "an experiment needs a list of stages"),
    ],
)
def test_experiment_file_errors_name_file_and_line_before_anything_runs(tmp_path, body, expect):
    f = tmp_path / "bad.yaml"
    f.write_text(body)
    p = run_cli("experiment", str(f), "--out", str(tmp_path / "out"))
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {f}") and expect in lines[0], p.stderr
    assert not (tmp_path / "out").exists()


def test_experiment_report_puts_every_comparison_and_evaluation_on_one_page(tmp_path, shared_data):
    tasks = ["task1159_bard_analogical_reasoning_containers", "task1152_bard_analogical_reasoning_causation"]
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    with good.open("w") as g, bad.open("w") as b:
        for t in tasks:
            for inst in json.loads((shared_data / "superni" / f"{t}.json").read_text())["Instances"][:3]:
                g.write(json.dumps({"id": inst["id"], "prediction": inst["output"][0]}) + "\n")
                b.write(json.dumps({"id": inst["id"], "prediction": "no idea"}) + "\n")
    f = tmp_path / "exp.yaml"
    only = ",".join(tasks)
    f.write_text(f"""\
stages:
  - {{name: eval_good, command: evaluate superni, tasks: {shared_data / "superni"}, predictions: good.jsonl,
     settings: {{max_instances: 3, only: [{only}]}}}}
  - {{name: eval_bad, command: evaluate superni, tasks: {shared_data / "superni"}, predictions: bad.jsonl,
     settings: {{max_instances: 3, only: [{only}]}}}}
  - {{name: bad_vs_good, command: compare, a: "{{eval_bad}}", b: "{{eval_good}}"}}
  - {{name: report, command: report}}
""")
    p = run_cli("--quiet", "experiment", str(f), "--out", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    page = (tmp_path / "out" / "report" / "report.html").read_text()
    data = json.loads((tmp_path / "out" / "report" / "report.json").read_text())
    assert data["kind"] == "experiment"
    assert [s["stage"] for s in data["sections"]] == ["bad_vs_good", "eval_good", "eval_bad"]  # comparisons first
    assert data["sections"][0]["counts"]["win"] == 2  # the good predictions win both tasks
    for heading in ("bad_vs_good: Comparison", "eval_good: SuperNI evaluation", "eval_bad: SuperNI evaluation"):
        assert heading in page


def test_experiment_token_cap_covers_every_stage_and_resumes_with_a_higher_cap(tmp_path, shared_data):
    """`experiment --max-total-tokens`: the cap is over the whole experiment (the first stage's
    spend counts against the second's), a stop is exit 3 with the first stage kept, and the
    same command with a higher cap finishes it; the experiment's report shows the usage of all
    its stages, summed."""
    from instructforge.api.usage import read_usage

    port = free_port()
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"""\
model: {{model: "openai:sim", base_url: "http://127.0.0.1:{port}/v1", concurrency: 4}}
stages:
  - name: si
    command: generate
    settings: {{num_instructions: 6, pool_lag: 2, seed: 2}}
  - {{name: again, command: generate, from_run: "{{si}}"}}
  - {{name: ev, command: evaluate superni, tasks: {shared_data / "superni"},
     settings: {{max_instances: 2, only: [task1159_bard_analogical_reasoning_containers]}}}}
  - {{name: report, command: report}}
""")
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    cli = ("--quiet", "experiment", str(exp), "--out", str(out))
    with server(port, (0.0, 0.0), 8):
        run_cli(*cli, "--only", "si", env=env, check=True)
        first = read_usage(out)["total"]["total_tokens"]
        assert first > 0
        # the second stage (one instance request per instruction: ~40% of the first stage's
        # tokens, measured) gets what the first left of the cap, a quarter of that: it stops
        cap = first + first // 4
        p = run_cli(*cli, "--max-total-tokens", str(cap), env=env)
        assert p.returncode == 3, p.stderr
        assert "budget reached" in p.stderr
        assert (out / "si" / ".stage.json").is_file() and not (out / "again" / ".stage.json").exists()
        led = read_usage(out)
        assert led["stops"] and led["total"]["total_tokens"] <= cap
        # a cap below what the first stage spent: the second stage does not start at all
        p = run_cli(*cli, "--max-total-tokens", str(first), env=env)
        assert p.returncode == 3 and "before stage again" in p.stderr, p.stderr
        # a higher cap: the same command finishes
        p = run_cli(*cli, "--max-total-tokens", str(100 * first), env=env)
        assert p.returncode == 0, p.stderr
    rows = json.loads((out / "experiment.json").read_text())["stages"]
    assert [r["status"] for r in rows] == ["skipped (done)", "ran", "ran", "ran"]
    led = read_usage(out)
    assert led["total"]["total_tokens"] <= 100 * first
    # the report: the evaluation's section, then the usage of every stage (not only the evaluation's)
    rep = json.loads((out / "report" / "report.json").read_text())["usage"]
    assert rep["total"] == led["total"] and len(rep["stops"]) == 1  # the stop in stage again
    assert {"si/generate:bootstrap", "again/generate:instances", "ev/evaluate superni"} <= set(rep["stages"])
    assert 'id="experiment-usage"' in (out / "report" / "report.html").read_text()
