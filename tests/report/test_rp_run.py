"""Report of a generate run dir: the numbers on the page are the run store's numbers."""

from __future__ import annotations

import json
import re

import pytest
from plotly.offline import get_plotlyjs
from rp_helpers import EVIL, build_run, run_cli

from instructforge.data.store import RunStore
from instructforge.reports import ReportConfig, build_report


@pytest.fixture
def small_run(tmp_path, shared_data):
    run = tmp_path / "run"
    return run, build_run(run, shared_data)


def _figs(html: str) -> list[dict]:
    return [
        json.loads(m.replace("\\u003c", "<"))
        for m in re.findall(r'<script type="application/json" id="fig-\d+-data">(.*?)</script>', html)
    ]


def test_run_report_numbers_match_store(small_run, tmp_path):
    run, counts = small_run
    out = build_report(run, tmp_path / "r" / "report.html")
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    f = data["funnel"]
    assert (f["seeds"], f["candidates"], f["accepted_instructions"], f["tasks_with_instances"]) == (
        counts["seeds"],
        counts["candidates"],
        counts["accepted"],
        counts["tasks"],
    )
    assert f["instances"] == counts["tasks"]  # one instance per kept task in the fixture
    assert data["rejections"]["instruction"] == counts["rejected"]
    assert data["rejections"]["task"] == {"no_instances": counts["task_rejected"]}
    assert data["rejections"]["instance"] == {"input_equals_output": counts["instance_rejections"]}
    # histograms aggregate every accepted instruction / kept instance exactly once
    assert sum(data["lengths"]["instruction"]["counts"]) == counts["accepted"]
    assert sum(data["lengths"]["output"]["counts"]) == counts["tasks"]
    r = data["rouge_to_seed"]
    assert r["available"] and r["seeds"] == 175 and sum(r["hist"]["counts"]) == counts["accepted"]
    assert 0.0 < r["hist"]["median"] < 1.0
    assert data["cost"]["completion_tokens_per_s"] == 124.0 and data["cost"]["cache_hit_rate"] == round(20 / 120, 4)
    assert data["status"] == {
        "stage": "instances",
        "finished": True,
        "empty": False,
        "message": "",
        "target": counts["accepted"],
    }
    v = data["verbs"]
    assert v["available"] and "spaCy" in v["parser"]
    assert v["parsed"] == counts["accepted"] and 0 < v["with_structure"] <= v["parsed"]
    top = {t["verb"]: t for t in v["top"]}
    assert len(v["top"]) == 20 and all(len(t["nouns"]) <= 4 for t in v["top"])
    assert "write" in top and top["write"]["count"] >= sum(n["count"] for n in top["write"]["nouns"])
    html = out.read_text()
    assert data["charts"] == 8 == len(_figs(html)) == html.count('class="chart"')
    assert data["model"] == "scripted:rules.jsonl" and data["table"]["shown"] == counts["candidates"]
    assert "rows" not in data["table"]  # the sample lives in the page only
    # the sunburst carries the parsed counts
    sb = next(f for f in _figs(html) if f["data"][0]["type"] == "sunburst")["data"][0]
    assert sb["values"][sb["ids"].index("write")] == top["write"]["count"]


def test_page_is_offline_and_escapes_generated_text(small_run, tmp_path):
    run, _ = small_run
    html = build_report(run, tmp_path / "report.html").read_text()
    js = get_plotlyjs()
    assert html.count(js) == 1  # plotly.js inlined exactly once
    # outside plotly.js and the data blocks (generated text may quote URLs) nothing points outward
    rest = re.sub(r'<script type="application/json".*?</script>', "", html.replace(js, ""), flags=re.S)
    assert "<script src" not in rest and "<link" not in rest and "http://" not in rest and "https://" not in rest
    # a generated instruction holding </script> cannot end a script block or inject markup
    assert EVIL not in html and "</script><script>window.__pwned" not in html
    table = re.search(r'id="table-data">(.*?)</script>', html).group(1)
    rows = json.loads(table)["rows"]
    assert any(r[4] == EVIL for r in rows)


def test_table_is_a_bounded_mixed_sample(small_run, tmp_path):
    run, counts = small_run
    build_report(run, tmp_path / "report.html", ReportConfig(table_rows=40))
    html = (tmp_path / "report.html").read_text()
    rows = json.loads(re.search(r'id="table-data">(.*?)</script>', html).group(1))["rows"]
    statuses = [r[1] for r in rows]
    assert len(rows) == 40
    # candidates accepted as instructions: "accepted", or "rejected (task)" when the instance filters dropped them
    assert sum(s in ("accepted", "rejected (task)") for s in statuses) == 20
    assert sum(s == "rejected" for s in statuses) == 20
    assert all(r[2] for r in rows if r[1] == "rejected")  # every rejected row shows its reason
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_empty_run_says_so(tmp_path):
    RunStore(tmp_path / "empty").close()
    p = run_cli("--quiet", "report", str(tmp_path / "empty"), "--out", str(tmp_path / "e.html"))
    assert p.returncode == 0, p.stderr
    html = (tmp_path / "e.html").read_text()
    assert "no generated records yet" in html and 'class="chart"' not in html
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["status"]["empty"] and data["charts"] == 0


def test_unfinished_run_is_flagged(tmp_path, shared_data):
    run = tmp_path / "run"
    counts = build_run(run, shared_data, limit=60, stage="bootstrap", target=500)
    build_report(run, tmp_path / "report.html")
    data = json.loads((tmp_path / "report.json").read_text())
    assert not data["status"]["finished"]
    msg = data["status"]["message"]
    assert "unfinished" in msg and "bootstrap" in msg and f"{counts['accepted']} of 500" in msg
    assert 'id="run-status"' in (tmp_path / "report.html").read_text()


def test_missing_parser_degrades_with_a_message(small_run, tmp_path):
    run, _ = small_run
    build_report(run, tmp_path / "report.html", ReportConfig(spacy_model="en_core_web_nonexistent"))
    data = json.loads((tmp_path / "report.json").read_text())
    assert not data["verbs"]["available"] and "en_core_web_nonexistent" in data["verbs"]["message"]
    html = (tmp_path / "report.html").read_text()
    assert "Verb-noun analysis unavailable" in html and data["charts"] == 7


def test_bad_paths_exit_2_with_one_line(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "broken.json").write_text('{"kind": "superni",\n "tasks": [1,}\n')
    (tmp_path / "nokind.json").write_text('{"tasks": {}}')
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "run.sqlite").write_text("not a database, just text " * 40)
    cases = {
        "corrupt": "run.sqlite: not a readable run store",
        "plain": "not a run dir",
        "missing": "no such file",
        "broken.json": "broken.json:2: invalid JSON",
        "nokind.json": 'no top-level "kind"',
        "notes.txt": "not a run dir",
    }
    for name, expected in cases.items():
        p = run_cli("report", str(tmp_path / name), "--out", str(tmp_path / "o.html"))
        assert p.returncode == 2, (name, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (name, p.stderr)
    assert not (tmp_path / "o.html").exists() and not (tmp_path / "o.json").exists()


def test_run_before_classify_has_no_classification_chart(tmp_path, shared_data):
    """A run killed after bootstrap: candidates only, no labels, no tasks yet."""
    run = tmp_path / "run"
    with RunStore(run) as st:
        for i, text in enumerate(
            ["Write a limerick about a cat.", "Name three rivers in Africa.", "Explain how a bicycle gear works."]
        ):
            st.add(
                "candidate",
                f"r00000.00.{i:02d}",
                {
                    "instruction": text,
                    "round": 0,
                    "reason": None,
                    "detail": None,
                    "max_rouge_l": 0.2,
                    "most_similar": None,
                },
                "accepted",
            )
        st.set_meta("stage", "bootstrap")
    build_report(run, tmp_path / "report.html")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["funnel"]["accepted_instructions"] == 3 and not data["status"]["finished"]
    assert data["classification"] == {"classification": 0, "non_classification": 0, "source": "accepted instructions"}
    html = (tmp_path / "report.html").read_text()
    # funnel, sunburst, pool ROUGE-L, lengths; notes instead of rejections, seeds, pie and cost
    assert data["charts"] == 4 and "No classification labels yet" in html and "No rejections." in html
    assert "no seed tasks" in html and "no stats yet" in html
