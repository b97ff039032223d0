"""``instructforge data`` against a real HTTP server on 127.0.0.1 serving a mirror built from
../shared/data in GitHub's raw layout: get, verify, path, evaluations by name; a flipped byte is
refused and not kept; a connection dropped mid-file leaves no file and the retry completes; no
network and no mirror is one line and exit 2, with nothing written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from instructforge.core.errors import InputError
from instructforge.data import datasets
from instructforge.testing.mirror import serve, shared_file

pytestmark = pytest.mark.timeout(300)

SEEDS = "self-instruct-seeds"
SUPERNI_3 = "task020_mctaco_span_based_question,task1557_jfleg_answer_generation,task288_gigaword_summarization"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "datacache"
    monkeypatch.setenv("INSTRUCTFORGE_DATA_DIR", str(d))
    monkeypatch.delenv("INSTRUCTFORGE_DATA_MIRROR", raising=False)
    return d


@pytest.fixture
def server(data_mirror):
    with serve(data_mirror) as srv:
        yield srv


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) if d.exists() else []


def test_list_json_has_the_promised_shape(cache):
    p = run_cli("data", "list", "--json", check=True)
    rows = json.loads(p.stdout)
    assert [r["name"] for r in rows] == [
        "self-instruct-seeds",
        "user-oriented",
        "instruction-induction",
        "superni-test",
        "alpaca",
    ]
    for r in rows:
        assert set(r) == {"name", "description", "license", "source", "files", "cached"}
        assert len(r["source"]["commit"]) == 40 and int(r["source"]["commit"], 16) >= 0
        assert r["cached"] is False
    by = {r["name"]: r for r in rows}
    assert len(by["superni-test"]["files"]) == 120  # test_tasks.txt + the 119 tasks
    assert len(by["instruction-induction"]["files"]) == 96
    assert all(f["sha256"] is None for f in by["superni-test"]["files"][1:])  # cut copies: not known
    assert by["superni-test"]["files"][0]["sha256"] is not None  # test_tasks.txt is a full copy
    assert by["alpaca"]["files"][0]["sha256"] is None
    assert all(len(f["sha256"]) == 64 for f in by["instruction-induction"]["files"])
    human = run_cli("data", "list", env={"COLUMNS": "250"}, check=True).stderr
    assert "pinned" in human and "first fetch" in human and "superni-test" in human


def test_get_verify_path_and_a_pinned_hash_that_matches_the_shared_copy(cache, server, shared_data):
    p = run_cli("data", "get", SEEDS, "user-oriented", "instruction-induction", "--from", server.url, check=True)
    seeds = cache / SEEDS / "data" / "seed_tasks.jsonl"
    assert f"{SEEDS}: {seeds}" in p.stdout
    assert seeds.read_bytes() == (shared_data / "self-instruct" / "seed_tasks.jsonl").read_bytes()
    assert len(_files(cache / "instruction-induction" / "data")) == 96
    assert not _files(cache / ".partial")
    n = len(server.requests)
    # cached: a second get fetches nothing, path prints where the files are
    run_cli("data", "get", SEEDS, "--from", server.url, check=True)
    assert len(server.requests) == n
    path = run_cli("data", "path", "instruction-induction", check=True).stdout.strip()
    assert Path(path) == cache / "instruction-induction" / "data" and (Path(path) / "raw" / "induce").is_dir()
    v = run_cli("data", "verify", "--json", check=True)
    rows = json.loads(v.stdout)
    assert {r["status"] for r in rows if r["dataset"] in (SEEDS, "instruction-induction")} == {"ok"}
    assert {r["status"] for r in rows if r["dataset"] == "alpaca"} == {"missing"}
    # a file changed in the cache afterwards: verify names it and both hashes, exit 2
    seeds.write_bytes(seeds.read_bytes().replace(b"a", b"b", 1))
    v = run_cli("data", "verify", SEEDS)
    errors = [line for line in v.stderr.splitlines() if line.startswith("error:")]
    assert v.returncode == 2 and len(errors) == 1, v.stderr
    pinned = datasets.get(SEEDS).files[0].sha256
    assert (
        str(seeds) in errors[0] and pinned in errors[0] and hashlib.sha256(seeds.read_bytes()).hexdigest() in errors[0]
    )


def test_a_flipped_byte_is_refused_and_not_kept(cache, data_mirror, tmp_path):
    bad = tmp_path / "badmirror"
    shutil.copytree(data_mirror, bad)
    ds = datasets.get(SEEDS)
    f = bad / ds.repo / ds.commit / ds.files[0].path
    data = bytearray(f.read_bytes())
    data[1000] ^= 0x01
    f.write_bytes(bytes(data))
    with serve(bad) as srv:
        p = run_cli("data", "get", SEEDS, "--from", srv.url)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "data/seed_tasks.jsonl" in lines[0] and ds.files[0].sha256 in lines[0]
    assert hashlib.sha256(bytes(data)).hexdigest() in lines[0] and "not kept" in lines[0]
    assert not (cache / SEEDS / "data").exists() and not _files(cache / ".partial")


def test_a_first_fetch_hash_is_recorded_and_checked_ever_after(cache, data_mirror, tmp_path):
    task = "task288_gigaword_summarization"
    p = run_cli("data", "get", "superni-test", "--from", str(data_mirror))
    assert p.returncode == 2  # the shared mirror holds 23 of the 119 tasks
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot fetch tasks/" in errors[0] and "Traceback" not in p.stderr
    got = datasets.dataset_path("superni-test", only=[task], source=str(data_mirror))
    man = json.loads((cache / "superni-test" / ".manifest.json").read_text())
    rec = man["files"][f"tasks/{task}.json"]
    assert rec["sha256"] == hashlib.sha256((got / f"{task}.json").read_bytes()).hexdigest()
    # the same task, other bytes on a later fetch: refused against the recorded hash
    (got / f"{task}.json").unlink()
    bad = tmp_path / "m2"
    shutil.copytree(data_mirror, bad)
    f = next(bad.rglob(f"{task}.json"))
    f.write_bytes(f.read_bytes().replace(b"the", b"The", 1))
    with pytest.raises(InputError, match=rf"{task}.json.*{rec['sha256']}.*not kept"):
        datasets.dataset_path("superni-test", only=[task], source=str(bad))
    assert not (got / f"{task}.json").exists()


def test_a_dropped_connection_leaves_no_file_and_the_retry_completes(cache, server, monkeypatch):
    from instructforge.data import fetch

    monkeypatch.setattr(fetch, "RETRIES", 0)
    target = cache / "user-oriented" / "human_eval" / "user_oriented_instructions.jsonl"
    server.drops["user_oriented_instructions.jsonl"] = 1
    with pytest.raises(InputError, match="cannot fetch human_eval/user_oriented_instructions.jsonl"):
        datasets.dataset_path("user-oriented", source=server.url)
    assert not target.exists() and not _files(cache / ".partial")
    assert datasets.dataset_path("user-oriented", source=server.url) == target
    assert target.read_bytes().count(b"\n") == 252
    # pooch's own retries take a cut download again within one get
    monkeypatch.setattr(fetch, "RETRIES", 2)
    target.unlink()
    server.drops["user_oriented_instructions.jsonl"] = 1
    n = len(server.requests)
    assert datasets.dataset_path("user-oriented", source=server.url) == target
    assert len(server.requests) == n + 2 and target.read_bytes().count(b"\n") == 252


def test_no_network_and_no_mirror_is_one_line_exit_2_and_nothing_written(cache, tmp_path):
    # no network: every connection (GitHub's raw host included) goes to a closed local port
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    out = tmp_path / "ev"
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "x", "prediction": "y"}\n')
    for args in (
        ("data", "get", SEEDS),
        ("evaluate", "superni", "--tasks", "superni-test", "--predictions", str(preds), "--out", str(out)),
        ("dedup", "alpaca", "--out", str(out)),
        ("generate", "--seeds", SEEDS, "--out", str(out), "--num-instructions", "2"),
    ):
        p = run_cli(*args, env=env, timeout=240)
        assert p.returncode == 2, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, (args, p.stderr)
        assert "instructforge data get" in lines[0] and "--from" in lines[0]
        assert not out.exists()
    assert not _files(cache / SEEDS) and not _files(cache / ".partial")


def test_evaluations_by_name_fetch_through_the_mirror_env(cache, server, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTFORGE_DATA_MIRROR", server.url)
    # induction score: no model
    preds = tmp_path / "sum.jsonl"
    ex = json.loads((shared_data / "instruction-induction" / "raw" / "execute" / "sum.json").read_text())["examples"]
    preds.write_text("".join(json.dumps({"id": k, "prediction": v["output"]}) + "\n" for k, v in ex.items()))
    p = run_cli(
        "induction", "score", "--data", "instruction-induction", "--task", "sum", "--predictions", str(preds), "--json"
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["accuracy"] == 1.0
    # SuperNI by name with predictions: only the selected tasks are fetched
    rows = []
    for t in SUPERNI_3.split(","):
        d = json.loads(shared_file(shared_data, "superni-test", f"tasks/{t}.json").read_text())  # type: ignore[union-attr]
        rows += [{"id": i["id"], "prediction": i["output"][0]} for i in d["Instances"][:5]]
    pf = tmp_path / "preds.jsonl"
    pf.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    p = run_cli(
        "evaluate", "superni", "--tasks", "superni-test", "--only", SUPERNI_3, "--max-instances", "5",
        "--predictions", str(pf), "--out", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["n_tasks"] == 3 and res["overall"]["exact_match"] == 100.0
    assert len(_files(cache / "superni-test" / "tasks")) == 3
    assert (cache / "superni-test" / "splits" / "default" / "test_tasks.txt").is_file()


def test_an_experiment_reads_a_dataset_by_name_fetched_before_its_first_stage(tmp_path, shared_data, mirror_env):
    tasks = SUPERNI_3.split(",")
    rows = []
    for t in tasks:
        d = json.loads((shared_data / "superni" / f"{t}.json").read_text())
        rows += [{"id": i["id"], "prediction": i["output"][0]} for i in d["Instances"][:2]]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "stages:\n"
        f"  - {{name: ev, command: evaluate superni, tasks: superni-test, predictions: p.jsonl,\n"
        f"     settings: {{max_instances: 2, only: [{', '.join(tasks)}]}}}}\n"
    )
    # offline (a mirror that does not exist): one line, exit 2, no output directory
    p = run_cli(
        "experiment",
        str(exp),
        "--out",
        str(tmp_path / "off"),
        env={"INSTRUCTFORGE_DATA_MIRROR": str(tmp_path / "none")},
    )
    assert p.returncode == 2 and "instructforge data get superni-test" in p.stderr, p.stderr
    assert not (tmp_path / "off").exists()
    p = run_cli("experiment", str(exp), "--out", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    res = json.loads((tmp_path / "out" / "ev" / "results.json").read_text())
    assert res["n_tasks"] == 3 and res["overall"]["exact_match"] == 100.0
    assert (
        json.loads((tmp_path / "out" / "ev" / ".stage.json").read_text())["spec"]["inputs"]["tasks"] == "superni-test"
    )


def test_dedup_reads_a_json_list_as_alpaca_data_json_is(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(
        json.dumps(
            [{"instruction": "Name a color."}, {"instruction": "Name a color!"}, {"instruction": "Add two numbers."}]
        )
    )
    run_cli("dedup", str(f), "--out", str(tmp_path / "d"), check=True)
    kept = (tmp_path / "d" / "kept.jsonl").read_text().splitlines()
    assert [json.loads(x)["instruction"] for x in kept] == ["Name a color.", "Add two numbers."]
