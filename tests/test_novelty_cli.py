"""``instructforge dedup`` through the real CLI (subprocess), plus a smoke run of the benchmark."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from conftest import run_cli
from instructforge.errors import InputError
from instructforge.novelty import read_records, rouge_l

ROOT = Path(__file__).resolve().parents[1]
SCORER = rouge_scorer.RougeScorer(["rougeL"])


def _write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
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
    assert r6["max_rouge_l"] == SCORER.score(RECORDS[5]["instruction"], RECORDS[2]["instruction"])["rougeL"].fmeasure > 0.7
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["records"], summary["kept"], summary["rejected"]) == (6, 4, 2)
    assert summary["threshold"] == 0.7 and summary["field"] == "instruction"
    assert "kept" in p.stderr and "rejected" in p.stderr


def test_dedup_threshold_field_and_stemmer(tmp_path):
    recs = [{"text": "the cats are running"}, {"text": "the cat is run"},
            {"text": "completely different words"}]
    inp = _write(tmp_path / "in.jsonl", recs)
    # without stemming the second shares only "the" (F = 0.25: kept at 0.5);
    # with it, cats -> cat and running -> run, so F = 0.75 > 0.5: rejected
    assert rouge_l(recs[1]["text"], recs[0]["text"]) == 0.25
    run_cli("dedup", str(inp), "--out", str(tmp_path / "b"), "--field", "text",
            "--threshold", "0.5", "--stemmer", check=True)
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
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "novelty.py"), "--data", str(shared_data),
                        "--ref-seconds", "0.3", "--queries", "60", "--min-seconds", "0.2", "--stream-size", "3000",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["skipped_lines"] == 14 and res["pairs"]["mismatches"] == 0
    assert res["pairs"]["reference"]["queries"] >= 1
    assert res["stream"]["size"] == 3000 and res["stream"]["kept"] + res["stream"]["rejected"] == 3000
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
