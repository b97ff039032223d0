"""``instructforge decontaminate`` with planted overlaps against real benchmarks: an exact copy, a
13-gram inside a longer text, a near paraphrase above and one below the ROUGE-L threshold, and
clean records; then ``export --drop-contaminated`` and the report on a run."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from instructforge.data.records import Instance
from instructforge.data.runrecords import Candidate, TaskRecord
from instructforge.data.store import RunStore
from instructforge.selfinstruct.novelty import rouge_l, tokenize

pytestmark = pytest.mark.timeout(300)

CLEAN = [
    ("Describe the smell of rain on a summer afternoon.", "", "Earthy, warm and a little sweet."),
    ("Convert the temperature to Fahrenheit.", "20 C", "68 F"),
]


def _uo(shared):
    return [
        json.loads(x) for x in (shared / "self-instruct" / "user_oriented_instructions.jsonl").read_text().splitlines()
    ]


def _planted(shared):
    """(records, what each must give: None = clean, else (benchmark key, kind))."""
    uo = _uo(shared)
    task = json.loads((shared / "superni" / "task288_gigaword_summarization.json").read_text())
    inst = next(i for i in task["Instances"] if len(tokenize(i["input"])) >= 24)
    words = tokenize(inst["input"])
    inside = "My own notes, unrelated to anything: " + " ".join(words[3:16]) + " - and that is all I wrote today."
    target = uo[10]["instruction"]
    toks = target.split()
    # near paraphrases: a few words changed (ROUGE-L stays >= 0.7) / many changed (below 0.7)
    near_hi = " ".join(w if i % 6 else "kindly" for i, w in enumerate(toks))
    near_lo = " ".join(w if i % 2 else "zzz" for i, w in enumerate(toks))
    assert rouge_l(near_hi, target) >= 0.7 > rouge_l(near_lo, target) > 0.3, (near_hi, near_lo)
    records = [
        (inst["input"], "", inst["output"][0]),  # 0: exact copy of a SuperNI test instance
        CLEAN[0],  # 1
        ("Summarize this.", inside, "A summary."),  # 2: one 13-gram inside a longer text
        (near_hi, "", "Sure."),  # 3: near paraphrase, ROUGE-L >= 0.7
        (near_lo, "", "Sure."),  # 4: near paraphrase below the threshold
        CLEAN[1],  # 5
    ]
    expect = {0: ("superni", "ngram", "task288_gigaword_summarization"), 2: ("superni", "ngram", None),
              3: ("uo", "rouge", uo[10]["id"])}  # fmt: skip
    return records, expect


def _write(path, records):
    path.write_text(json.dumps([{"instruction": a, "input": b, "output": c} for a, b, c in records]))
    return path


def test_planted_overlaps_are_flagged_and_clean_records_are_not(tmp_path, shared_data, mirror_env):
    records, expect = _planted(shared_data)
    data = _write(tmp_path / "gen.json", records)
    out = tmp_path / "dc"
    superni = str(shared_data / "superni")  # a path: the folder a name holds (the mirror has 23 tasks)
    p = run_cli(
        "decontaminate", "--data", str(data), "--against", superni, "user-oriented", "--out", str(out), "--json"
    )
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s == {"records": 6, "flagged": 3, "by_benchmark": {superni: 2, "user-oriented": 1}}
    rows = [json.loads(x) for x in (out / "contamination.jsonl").read_text().splitlines()]
    label = {"superni": superni, "uo": "user-oriented"}
    assert [(r["index"], r["benchmark"], r["kind"]) for r in rows] == [
        (i, label[b], k) for i, (b, k, _) in sorted(expect.items())
    ]
    for r in rows:
        item = expect[r["index"]][2]
        assert item is None or r["item"] == item
        assert set(r) == {"index", "benchmark", "item", "kind", "score"} and 0 < r["score"] <= 1
    assert rows[0]["score"] == 1.0  # every 13-gram of the copy is in the benchmark
    assert 0 < rows[1]["score"] < 0.5  # one 13-gram among many
    assert rows[2]["score"] >= 0.7
    assert (out / "summary.json").is_file() and (out / "config.yaml").is_file()


def test_against_a_name_that_cannot_be_fetched_writes_nothing(tmp_path, shared_data, cache_offline):
    data = _write(tmp_path / "gen.json", CLEAN)
    out = tmp_path / "dc"
    p = run_cli(
        "decontaminate", "--data", str(data), "--against", "user-oriented", "--out", str(out), env=cache_offline
    )
    assert (
        p.returncode == 2
        and len(p.stderr.strip().splitlines()) == 1
        and "instructforge data get user-oriented" in p.stderr
    )
    assert not out.exists()


def test_a_bad_line_of_a_jsonl_benchmark_file_is_named_by_its_line(tmp_path, cache_offline):
    data = _write(tmp_path / "gen.json", CLEAN)
    bench = tmp_path / "bench.jsonl"
    good = json.dumps({"instruction": "Name a colour."})
    bench.write_text(f"{good}\n\n{good}\n{{not json\n", encoding="utf-8")  # line 4 is bad
    out = tmp_path / "dc"
    p = run_cli("decontaminate", "--data", str(data), "--against", str(bench), "--out", str(out), env=cache_offline)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert f"{bench}:4: not valid JSON" in p.stderr, p.stderr
    # a record without an instruction: its own line too
    bench.write_text(f"{good}\n\n{json.dumps({'input': 'x'})}\n", encoding="utf-8")
    p = run_cli("decontaminate", "--data", str(data), "--against", str(bench), "--out", str(out), env=cache_offline)
    assert p.returncode == 2 and f"{bench}:3: a benchmark record needs" in p.stderr, p.stderr
    assert not out.exists()


@pytest.fixture
def cache_offline(tmp_path):
    return {
        "INSTRUCTFORGE_DATA_DIR": str(tmp_path / "empty-cache"),
        "INSTRUCTFORGE_DATA_MIRROR": str(tmp_path / "no-such-mirror"),
    }


def test_a_run_is_decontaminated_exported_without_the_flagged_and_reported(tmp_path, shared_data, mirror_env):
    records, expect = _planted(shared_data)
    run = tmp_path / "run"
    with RunStore(run) as st, st.transaction():
        for n, (ins, inp, out) in enumerate(records):
            key = f"p{n:06d}.00"
            st.put(Candidate(key=key, instruction=ins, accepted=True, is_classification=False))
            st.put(TaskRecord(key=key, instruction=ins, accepted=True, instances=[Instance(inp, out)]))
        st.set_meta("stage", "instances")
        st.write_config({"command": "generate", "model": {"model": "scripted:x"}, "generate": {"num_instructions": 6}})
    before = run_cli("export", str(run), "--format", "alpaca", "--out", str(tmp_path / "x.json"), "--drop-contaminated")
    assert before.returncode == 2 and "instructforge decontaminate" in before.stderr
    p = run_cli("decontaminate", str(run), "--against", str(shared_data / "superni"), "--against", "user-oriented")
    assert p.returncode == 0, p.stderr
    assert (run / "decontaminate" / "contamination.jsonl").is_file()
    out = tmp_path / "clean.json"
    run_cli("export", str(run), "--format", "alpaca", "--out", str(out), "--drop-contaminated", check=True)
    kept = [r["instruction"] for r in json.loads(out.read_text())]
    assert kept == [records[i][0] for i in range(len(records)) if i not in expect]
    rep = tmp_path / "report.html"
    run_cli("report", str(run), "--out", str(rep), check=True)
    html = rep.read_text()
    assert 'id="contamination"' in html and "user-oriented" in html
