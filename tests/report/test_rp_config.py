"""Settings of ``instructforge report``: a bad --config exits 2 naming the file and line before
anything is written; a flag, --set and a config file resolve to the same ReportConfig; the
Python API (instructforge.api.evaluate.report) writes what the CLI writes."""

from __future__ import annotations

import json
import re

import pytest
from rp_helpers import build_run, run_cli, superni_results

from instructforge.api.evaluate import report
from instructforge.core.errors import InputError
from instructforge.reports import ReportConfig


@pytest.fixture
def run(tmp_path, shared_data):
    d = tmp_path / "run"
    build_run(d, shared_data, limit=40)
    return d


@pytest.mark.parametrize(
    "text,msg",
    [
        ("table_rows: 10\ntop_verb: 5\n", "unknown setting 'top_verb' for report (did you mean 'top_verbs'?)"),
        ("table_rows: 10\nparse_limit: all\n", "parse_limit: expected integer, got the text 'all'"),
        ("table_rows: 10\ntop_nouns: 0\n", "top_nouns: 0 is out of range [1, inf]"),
    ],
)
def test_bad_config_exits_2_with_file_and_line(tmp_path, text, msg):
    d = tmp_path / "eval"
    d.mkdir()
    (d / "results.json").write_text(json.dumps(superni_results()))
    (tmp_path / "cfg.yaml").write_text(text)
    p = run_cli("report", str(d), "--config", str(tmp_path / "cfg.yaml"))
    assert p.returncode == 2 and p.stderr.strip() == f"error: {tmp_path / 'cfg.yaml'}:2: {msg}"
    assert [x.name for x in d.iterdir()] == ["results.json"]


def test_bad_values_from_python_name_the_class_and_field():
    with pytest.raises(InputError, match=r"ReportConfig: table_rows: -1 is out of range \[0, inf\]"):
        ReportConfig(table_rows=-1)
    with pytest.raises(InputError, match=re.escape("ReportConfig: spacy_model: expected text | null, got 3")):
        ReportConfig(spacy_model=3)


def test_flag_set_and_file_give_the_same_report(run, tmp_path):
    (tmp_path / "cfg.yaml").write_text("table_rows: 12\nparse_limit: 30\nrouge_bins: 10\n")
    seen = {}
    for name, extra in {
        "flags": ["--table-rows", "12", "--parse-limit", "30", "--set", "rouge_bins=10"],
        "set": ["--set", "table_rows=12", "--set", "parse_limit=30", "--set", "rouge_bins=10"],
        "file": ["--config", str(tmp_path / "cfg.yaml")],
    }.items():
        run_cli("--quiet", "report", str(run), "--out", str(tmp_path / f"{name}.html"), *extra, check=True)
        seen[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert seen["flags"] == seen["set"] == seen["file"]
    rc = seen["flags"]["report_config"]
    assert (rc["table_rows"], rc["parse_limit"], rc["rouge_bins"], rc["top_verbs"]) == (12, 30, 10, 20)
    assert seen["flags"]["table"]["shown"] == 12 and len(seen["flags"]["rouge_to_seed"]["hist"]["counts"]) == 10


def test_api_equals_cli(run, tmp_path):
    run_cli("--quiet", "report", str(run), "--out", str(tmp_path / "cli.html"), "--table-rows", "8", check=True)
    page = report(run, out=tmp_path / "api.html", config=ReportConfig(table_rows=8))
    assert page == tmp_path / "api.html" and page.is_file()
    assert json.loads((tmp_path / "api.json").read_text()) == json.loads((tmp_path / "cli.json").read_text())
    assert report(run) == run / "report.html" and (run / "report.json").is_file()  # default: inside the run dir
