"""End to end with the real embedded judge (SmolLM2-135M) on a tiny real run made by ``generate``
(scripted instance writer): every instance gets valid scores, the report and a curated export
work. Checks structure, never content: a 135M judge is weak."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from conftest import run_cli
from instructforge.data.store import RunStore

_spec = importlib.util.spec_from_file_location(
    "si_helpers_for_score", Path(__file__).parents[1] / "selfinstruct" / "si_helpers.py"
)
si = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(si)


@pytest.mark.slow
def test_sc_embedded_judge_end_to_end(tmp_path, isolated_cache):
    seeds, rules, cfg = si.setup_run_files(tmp_path)
    run = tmp_path / "run"
    run_cli(*si.generate_args(seeds, rules, cfg, run), check=True)
    with RunStore(run, create=False) as st:
        n = sum(len(t.instances) for t in st.tasks(accepted=True))
    assert n > 0
    p = run_cli("score", str(run), "--judge", "embedded", check=True)
    assert f"{n} scored, 0 already stored, 0 failed" in p.stdout
    with RunStore(run, create=False) as st:
        recs = st.scores()
    assert len(recs) == n
    for r in recs:
        for v in (r.naturalness, r.coherence, r.understandability, r.rew):
            assert 0.0 <= v <= 1.0
        assert math.isfinite(r.reward) and -0.47 <= r.reward <= 0.46  # the rule's range for values in [0, 1]
        assert set(r.audit_p) == {"instruction", "input", "output"}
        assert all(v is None or 0.0 <= v <= 1.0 for v in r.audit_p.values())
    # the real judge gives different answers to different records
    assert len({round(r.reward, 6) for r in recs}) > 1
    again = run_cli("score", str(run), "--judge", "embedded", check=True)
    assert f"0 scored, {n} already stored" in again.stdout
    run_cli("report", str(run), "--out", str(tmp_path / "r.html"), check=True)
    assert json.loads((tmp_path / "r.json").read_text())["scores"]["scored"] == n
    median = sorted(r.reward for r in recs)[n // 2]
    run_cli(
        "export",
        str(run),
        "--format",
        "messages",
        "--out",
        str(tmp_path / "m.jsonl"),
        "--min-score",
        repr(median),
        check=True,
    )
    kept = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(kept) == sum(r.reward >= median for r in recs)
