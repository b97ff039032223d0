"""``instructforge dedup`` through the real CLI (subprocess) and its Python API (the same results),
its settings (flag, ``--set``, ``--config``), plus a smoke run of the benchmark."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rouge_score import rouge_scorer

from conftest import run_cli
from instructforge.api.induction import dedup
from instructforge.core.errors import InputError
from instructforge.selfinstruct.novelty import DedupConfig, read_records, rouge_l
from instructforge.selfinstruct.novelty_pool import default_processes

ROOT = Path(__file__).resolve().parents[1]
SCORER = rouge_scorer.RougeScorer(["rougeL"])


def _write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


RECORDS = [
    {"id": 1, "instruction": "Write a short poem about the sea.", "input": "", "output": "Waves."},
    {"id": 2, "instruction": "Write a short poem about the sea!", "extra": {"k": [1, 2]}},
    {"id": 3, "instruction": "List three prime numbers greater than ten."},
    {"id": 4, "instruction": "Translate the sentence into French.", "input": "Good morning, café."},
    {"id": 5, "instruction": "Compose a haiku about the mountains."},
    {"id": 6, "instruction": "list THREE prime numbers greater than 10"},
]


def test_dedup_kept_rejected_and_fields(tmp_path):
    inp = _write(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "out"
    p = run_cli("dedup", str(inp), "--out", str(out), check=True)
    kept, rejected = _read(out / "kept.jsonl"), _read(out / "rejected.jsonl")
    assert [r["id"] for r in kept] == [1, 3, 4, 5]
    assert [r["id"] for r in rejected] == [2, 6]
    by_id = {r["id"]: r for r in RECORDS}
    for r in kept + rejected:  # input records unchanged, plus the two added fields
        extra = {k: v for k, v in r.items() if k not in ("max_rouge_l", "most_similar")}
        assert extra == by_id[r["id"]]
    assert kept[0]["max_rouge_l"] == 0.0 and kept[0]["most_similar"] is None
    r2 = rejected[0]
    assert r2["max_rouge_l"] == 1.0 and r2["most_similar"] == RECORDS[0]["instruction"]
    r5 = kept[3]
    assert r5["max_rouge_l"] == SCORER.score(RECORDS[4]["instruction"], RECORDS[0]["instruction"])["rougeL"].fmeasure
    assert r5["max_rouge_l"] <= 0.7 and r5["most_similar"] == RECORDS[0]["instruction"]
    r6 = rejected[1]
    assert (
        r6["max_rouge_l"] == SCORER.score(RECORDS[5]["instruction"], RECORDS[2]["instruction"])["rougeL"].fmeasure > 0.7
    )
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["records"], summary["kept"], summary["rejected"]) == (6, 4, 2)
    assert summary["threshold"] == 0.7 and summary["field"] == "instruction"
    assert "kept" in p.stderr and "rejected" in p.stderr


def test_dedup_threshold_field_and_stemmer(tmp_path):
    recs = [{"text": "the cats are running"}, {"text": "the cat is run"}, {"text": "completely different words"}]
    inp = _write(tmp_path / "in.jsonl", recs)
    # without stemming the second shares only "the" (F = 0.25: kept at 0.5);
    # with it, cats -> cat and running -> run, so F = 0.75 > 0.5: rejected
    assert rouge_l(recs[1]["text"], recs[0]["text"]) == 0.25
    run_cli(
        "dedup",
        str(inp),
        "--out",
        str(tmp_path / "b"),
        "--field",
        "text",
        "--threshold",
        "0.5",
        "--stemmer",
        check=True,
    )
    rej = _read(tmp_path / "b" / "rejected.jsonl")
    stem = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert [r["text"] for r in rej] == ["the cat is run"]
    assert rej[0]["max_rouge_l"] == stem.score("the cat is run", "the cats are running")["rougeL"].fmeasure == 0.75
    assert [r["text"] for r in _read(tmp_path / "b" / "kept.jsonl")] == [recs[0]["text"], recs[2]["text"]]
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["stemmer"] is True and summary["threshold"] == 0.5 and summary["field"] == "text"


def test_dedup_bad_line_exit_2_nothing_written(tmp_path):
    for bad, reason in [("{not json", "invalid JSON"), ('{"input": "x"}', 'missing "instruction"')]:
        inp = _write(tmp_path / "in.jsonl", [RECORDS[0], "", RECORDS[1], bad, RECORDS[2]])
        out = tmp_path / "out"
        p = run_cli("dedup", str(inp), "--out", str(out))
        assert p.returncode == 2, p.stderr
        assert p.stderr.strip().startswith(f"error: {inp}:4: {reason}"), p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        assert not out.exists()
    for bad, reason in [('["a list"]', "not a JSON object"), ('{"instruction": 7}', '"instruction" is not a string')]:
        inp = _write(tmp_path / "in.jsonl", [RECORDS[0], bad])
        with pytest.raises(InputError, match=f"^{re.escape(str(inp))}:2: {re.escape(reason)}$"):
            read_records(inp, "instruction")
    with pytest.raises(InputError, match="missing.jsonl: cannot read"):
        read_records(tmp_path / "missing.jsonl")


def test_lenient_reader_reports_and_skips(tmp_path):
    inp = _write(tmp_path / "in.jsonl", [RECORDS[0], "{broken", RECORDS[1]])
    recs, problems = read_records(inp, strict=False)
    assert [n for n, _ in recs] == [1, 3]
    assert problems == [f"{inp}:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)"]


def test_benchmark_smoke(tmp_path, shared_data):
    out = tmp_path / "bench.json"
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "novelty.py"),
            "--data",
            str(shared_data),
            "--ref-seconds",
            "0.3",
            "--queries",
            "60",
            "--min-seconds",
            "0.2",
            "--stream-size",
            "3000",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["skipped_lines"] == 14
    mismatches = res["pairs"]["mismatches"]
    assert set(mismatches) == {"one_process", "pool_per_query", "pool_kept", "every_core"}
    assert not any(mismatches.values())
    assert all(r["queries"] >= 1 for r in res["pairs"]["reference"].values())
    s = res["stream"]
    assert s["size"] == 3000 and s["kept"] + s["rejected"] == 3000 and s["mismatches"] == 0
    assert s["every_core"]["processes"] == default_processes()  # 3000 texts: the workers started
    assert "pairs/s" in p.stdout and "speedup" in p.stdout


def test_benchmark_stream_is_deterministic_real_plus_variants(shared_data):
    spec = importlib.util.spec_from_file_location("novelty_bench", ROOT / "benchmarks" / "novelty.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    texts, problems = bench.load_real(shared_data)
    assert len(problems) == 14 and len(texts) == 175 + 252 + 5874 - 14
    a, b = bench.make_stream(texts, 8000), bench.make_stream(texts, 8000)
    assert a == b and len(a) == 8000
    assert set(texts) <= set(a)  # every real instruction, plus 1,713 variants of them
    assert len(set(a) - set(texts)) > 1500


STEM_RECORDS = [{"text": "the cats are running"}, {"text": "the cat is run"}, {"text": "completely different words"}]


@pytest.mark.parametrize(
    "bad,what",
    [
        ({"treshold": 0.5}, "unknown setting 'treshold' for dedup (did you mean 'threshold'?)"),
        ({"stemmer": "yes"}, "stemmer: expected true/false, got the text 'yes'"),
        ({"threshold": 1.5}, "threshold: 1.5 is out of range [0, 1]"),
    ],
    ids=["unknown", "type", "range"],
)
def test_dedup_bad_config_file_exit_2_file_line(tmp_path, bad, what):
    inp = _write(tmp_path / "in.jsonl", STEM_RECORDS)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("# mine\nfield: text\n" + yaml.safe_dump(bad), encoding="utf-8")
    p = run_cli("dedup", str(inp), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"error: {cfg}:3: {what}"
    assert not (tmp_path / "out").exists()


def test_dedup_flag_set_and_file_give_the_same_config(tmp_path):
    inp = _write(tmp_path / "in.jsonl", STEM_RECORDS)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"threshold": 0.5, "field": "text", "stemmer": True}), encoding="utf-8")
    runs = {
        "a": ["--threshold", "0.5", "--field", "text", "--stemmer"],
        "b": ["--set", "threshold=0.5", "--set", "field=text", "--set", "stemmer=true"],
        "c": ["--config", str(cfg)],
    }
    for out, extra in runs.items():
        run_cli("dedup", str(inp), "--out", str(tmp_path / out), *extra, check=True)
    texts = {(tmp_path / o / "config.yaml").read_text() for o in runs}
    assert len(texts) == 1
    assert yaml.safe_load(texts.pop()) == {
        "dedup": {"threshold": 0.5, "field": "text", "stemmer": True, "processes": 0}
    }
    kept = {(tmp_path / o / "kept.jsonl").read_text() for o in runs}
    assert len(kept) == 1 and "the cat is run" not in kept.pop()  # stemmed: F = 0.75 > 0.5
    # the written config.yaml is a valid --config: the same settings again
    run_cli(
        "dedup", str(inp), "--out", str(tmp_path / "d"), "--config", str(tmp_path / "a" / "config.yaml"), check=True
    )
    assert (tmp_path / "d" / "config.yaml").read_text() == (tmp_path / "a" / "config.yaml").read_text()


def test_dedup_api_equals_cli(tmp_path):
    inp = _write(tmp_path / "in.jsonl", RECORDS)
    run_cli("dedup", str(inp), "--out", str(tmp_path / "cli"), "--threshold", "0.6", check=True)
    s = dedup(inp, out=tmp_path / "api", config=DedupConfig(threshold=0.6))
    assert (s["records"], s["kept"], s["rejected"]) == (6, 4, 2)
    for name in ("kept.jsonl", "rejected.jsonl", "config.yaml"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "cli" / name).read_text()
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert {k: v for k, v in cli.items() if k != "seconds"} == {k: v for k, v in s.items() if k != "seconds"}
    # checked before anything is written, in Python too
    with pytest.raises(InputError, match='in.jsonl:1: missing "text"'):
        dedup(inp, out=tmp_path / "x", config=DedupConfig(field="text"))
    with pytest.raises(InputError, match="DedupConfig: threshold: 2 is out of range"):
        DedupConfig(threshold=2)
    with pytest.raises(InputError, match="DedupConfig: field must not be empty"):
        DedupConfig(field="")
    assert not (tmp_path / "x").exists()


def test_dedup_on_every_core_writes_the_same_files(tmp_path, shared_data):
    """A real file long enough for the workers (5,860 alpaca-libre records): every core and
    --processes 1 give byte-identical kept/rejected files."""
    records = []
    for v in (1, 2, 3):
        records += [
            rec for _, rec in read_records(shared_data / f"alpaca-libre/alpaca_libre_tasks_v{v}.jsonl", strict=False)[0]
        ]
    inp = _write(tmp_path / "in.jsonl", records)
    outs = {}
    for name, extra in (("all", []), ("one", ["--processes", "1"])):
        outs[name] = tmp_path / name
        run_cli("dedup", str(inp), "--out", str(outs[name]), *extra, check=True)
    for f in ("kept.jsonl", "rejected.jsonl"):
        assert (outs["all"] / f).read_bytes() == (outs["one"] / f).read_bytes()
    summaries = {k: json.loads((v / "summary.json").read_text()) for k, v in outs.items()}
    assert summaries["all"]["processes"] == default_processes() and summaries["one"]["processes"] == 1
    assert summaries["all"]["kept"] == summaries["one"]["kept"] > 1000
    assert summaries["all"]["pairs_compared"] == summaries["one"]["pairs_compared"]
