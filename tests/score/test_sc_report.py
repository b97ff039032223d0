"""``instructforge report`` of a scored run: the score distributions, the audit table next to the
paper's figures and the lowest/highest records, on the page and in report.json; nothing of it
for a run without scores."""

from __future__ import annotations

import json
import re

from sc_helpers import N_INSTANCES, judge_rules, make_run

from conftest import run_cli
from instructforge.reports import build_report


def test_sc_report_shows_scores(tmp_path, isolated_cache):
    run = make_run(tmp_path / "run")
    build_report(run, tmp_path / "before.html")
    before = json.loads((tmp_path / "before.json").read_text())
    assert before["scores"] == {"available": False} and "Audit and checks" not in (tmp_path / "before.html").read_text()

    assert run_cli("score", str(run), "--judge", judge_rules(tmp_path / "judge.jsonl")).returncode == 0
    p = run_cli("report", str(run), "--out", str(tmp_path / "r.html"))
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    s = data["scores"]
    summary = json.loads((run / "score" / "summary.json").read_text())
    assert s["available"] and s["scored"] == s["items"] == N_INSTANCES
    assert {k: s[k] for k in summary} == summary  # the same numbers as `score` wrote
    assert s["meta"]["judge"].startswith("scripted:") and s["meta"]["threshold"] == 0.5
    html = (tmp_path / "r.html").read_text()
    # score keeps its usage ledger in the run store: the report gains the usage section (one chart)
    assert not before["usage"].get("available") and "score" in data["usage"]["stages"]
    assert data["charts"] == before["charts"] + 2 == html.count('class="chart"')
    figs = [json.loads(f.replace("\\u003c", "<")) for _, f in re.findall(r'id="fig-(\d+)-data">(.*?)</script>', html)]
    (fig,) = [f for f in figs if f["layout"]["title"]["text"] == "Score distributions"]
    assert len(fig["data"]) == 8
    for needed in (
        "Audit and checks",
        "92.0%",
        "79.0%",
        "58.0%",
        "54.0%",
        "lowest reward",
        "highest reward",
        "repeated_line",
        "empty_output",
    ):
        assert needed in html, needed
    assert "walrus" in s["lowest"][0]["output"] and "zebra" in s["highest"][0]["output"]
    assert html.index("lowest reward") < html.index(s["lowest"][0]["output"]) < html.index("highest reward")


def test_sc_report_escapes_generated_text(tmp_path, isolated_cache):
    run = make_run(
        tmp_path / "run", tasks=[("p1", "Say </script><script>window.x=1</script>", [("", "<i>walrus</i>")])]
    )
    assert run_cli("score", str(run), "--judge", judge_rules(tmp_path / "judge.jsonl")).returncode == 0
    html = build_report(run, tmp_path / "r.html").read_text()
    assert "&lt;i&gt;walrus&lt;/i&gt;" in html and "<i>walrus</i>" not in html
    assert "</script><script>window.x=1" not in html
