"""``instructforge check``: one line per record in input order, counts by reason, exit 0
whatever it finds; bad input is one ``error: FILE:LINE: reason`` line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from si_helpers import run_cli

GOOD = {"instruction": "Name the largest planet of the solar system.", "input": "", "output": "Jupiter"}
JUNK = {"instruction": "True: Factories should decide what matters most.", "input": "", "output": "1. 1. 2. 3. 4."}


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_check_alpaca_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in (GOOD, JUNK, GOOD)))
    p = run_cli("check", str(f), "--out", str(tmp_path / "o"), "--json", check=True)
    s = json.loads(p.stdout)
    assert s == {
        "records": 3,
        "ok": 2,
        "flagged": 1,
        "by_reason": {"labelled_statement": 1, "degenerate_enumeration": 1},
    }
    rows = _lines(tmp_path / "o" / "checks.jsonl")
    assert [r["index"] for r in rows] == [0, 1, 2] and [r["ok"] for r in rows] == [True, False, True]
    assert rows[1]["reasons"] == ["labelled_statement", "degenerate_enumeration"]


def test_check_messages_file_and_table(tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    msgs = [
        {"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
        for r in (JUNK, GOOD)
    ]
    f.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    p = run_cli("check", str(f), "--out", str(tmp_path / "o"), check=True)
    assert "degenerate_enumeration" in p.stdout and "1 ok, 1 flagged of 2" in p.stdout
    assert [r["ok"] for r in _lines(tmp_path / "o" / "checks.jsonl")] == [False, True]


def test_check_bad_lines_and_empty_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + '{"instruction": "x"\n')
    p = run_cli("check", str(bad), "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith(f"error: {bad}:2:")
    assert not (tmp_path / "o").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    p = run_cli("check", str(empty), "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "no records" in p.stderr and not (tmp_path / "o").exists()
    missing_output = tmp_path / "nooutput.jsonl"
    missing_output.write_text(json.dumps({"instruction": "Say hi."}) + "\n")
    p = run_cli("check", str(missing_output))
    assert p.returncode == 2 and p.stderr.startswith(f"error: {missing_output}:1:")
