"""Curated exports: ``export --min-score/--top-k/--audit/--drop-flagged`` keep exactly the records
whose stored scores pass, count what each rule removed, and refuse a run without scores."""

from __future__ import annotations

import json

import pytest
from sc_helpers import N_INSTANCES, judge_rules, make_run, tree

from conftest import run_cli
from instructforge.data.store import RunStore
from instructforge.feedback.audit import all_valid


@pytest.fixture
def scored_run(tmp_path, isolated_cache):
    run = make_run(tmp_path / "run")
    p = run_cli("score", str(run), "--judge", judge_rules(tmp_path / "judge.jsonl"))
    assert p.returncode == 0, p.stderr
    with RunStore(run, create=False) as st:
        by_text = {}
        for t in st.tasks(accepted=True):
            for i, inst in enumerate(t.instances):
                by_text[(t.instruction, inst.input, inst.output)] = next(
                    r for r in st.scores() if r.task_key == t.key and r.index == i
                )
    return run, by_text


def _export(run, out, *flags):
    p = run_cli("export", str(run), "--format", "alpaca", "--out", str(out), *flags)
    assert p.returncode == 0, p.stderr
    rows = json.loads(out.read_text())
    return [(r["instruction"], r["input"], r["output"]) for r in rows], p


def test_sc_min_score_keeps_exactly_the_records_at_or_above(scored_run, tmp_path):
    run, by_text = scored_run
    all_rows, _ = _export(run, tmp_path / "all.json")
    rewards = sorted({r.reward for r in by_text.values()})
    assert len(rewards) >= 3
    for x in (rewards[1], rewards[1] + 1e-9, rewards[-1], rewards[0] - 1.0):
        kept, p = _export(run, tmp_path / "c.json", "--min-score", repr(x))
        assert kept == [t for t in all_rows if by_text[t].reward >= x]  # store order kept
        counts = json.loads((tmp_path / "c.curation.json").read_text())
        assert counts["removed"] == {"unscored": 0, "min_score": len(all_rows) - len(kept)}
        assert counts["records_before"] == N_INSTANCES and counts["records_after"] == len(kept)
        assert p.stdout.strip().endswith(f"{len(kept)} records -> {tmp_path / 'c.json'}")
        assert f"min_score {len(all_rows) - len(kept)}" in p.stdout


def test_sc_other_rules_and_their_counts(scored_run, tmp_path):
    run, by_text = scored_run
    all_rows, _ = _export(run, tmp_path / "all.json")
    kept, _ = _export(run, tmp_path / "v.json", "--audit", "valid")
    assert kept == [t for t in all_rows if all_valid(by_text[t].audit_yes)] and len(kept) < len(all_rows)
    kept, _ = _export(run, tmp_path / "o.json", "--audit", "output")
    assert kept == [t for t in all_rows if by_text[t].audit_yes["output"] is True]
    kept, _ = _export(run, tmp_path / "f.json", "--drop-flagged")
    assert kept == [t for t in all_rows if not by_text[t].flags] and len(kept) == len(all_rows) - 3
    kept, _ = _export(run, tmp_path / "k.json", "--top-k", "2", "--score-field", "naturalness")
    best = sorted(all_rows, key=lambda t: -by_text[t].naturalness)[:2]
    assert kept == [t for t in all_rows if t in best]
    # rules chain in a fixed order, each counted on what the earlier ones kept
    kept, _ = _export(
        run, tmp_path / "x.json", "--drop-flagged", "--audit", "instruction", "--min-score", "-1", "--top-k", "1"
    )
    counts = json.loads((tmp_path / "x.curation.json").read_text())
    assert list(counts["removed"]) == ["unscored", "flagged", "audit", "min_score", "top_k"]
    assert sum(counts["removed"].values()) == len(all_rows) - len(kept) and len(kept) == 1
    assert counts["rules"]["top_k"] == 1 and counts["judge"].startswith("scripted:")


def test_sc_unscored_and_stale_records_are_removed_seeds_kept(scored_run, tmp_path):
    run, _ = scored_run
    with RunStore(run, create=False) as st, st.transaction():
        (t,) = [t for t in st.tasks() if t.key == "p000001.01"]
        t.instances[0].output = "Changed after scoring."
        st.replace(t)
        from instructforge.data.records import Instance, Task

        st.add_seed(Task("Name a fruit.", [Instance("", "Apple.")], id="seed0"))
    kept, _ = _export(run, tmp_path / "c.json", "--min-score", "-10", "--include-seeds")
    counts = json.loads((tmp_path / "c.curation.json").read_text())
    assert counts["removed"] == {"unscored": 1, "min_score": 0} and counts["seeds"] == 1
    assert ("Name a fruit.", "", "Apple.") in kept and all(o != "Changed after scoring." for _, _, o in kept)


def test_sc_filter_without_scores_exit_2_nothing_written(tmp_path):
    run = make_run(tmp_path / "run")
    before = tree(run)
    for flags in (["--min-score", "0"], ["--top-k", "3"], ["--audit", "valid"], ["--drop-flagged"]):
        p = run_cli("export", str(run), "--format", "alpaca", "--out", str(tmp_path / "x.json"), *flags)
        assert p.returncode == 2 and "the run has no scores" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.curation.json").exists()
    assert tree(run) == before


def test_sc_bad_score_field_exit_2(scored_run, tmp_path):
    run, _ = scored_run
    p = run_cli(
        "export",
        str(run),
        "--format",
        "alpaca",
        "--out",
        str(tmp_path / "x.json"),
        "--min-score",
        "0",
        "--score-field",
        "vibes",
    )
    assert p.returncode == 2 and "--score-field must be one of" in p.stderr and not (tmp_path / "x.json").exists()


def test_sc_export_without_flags_unchanged(scored_run, tmp_path):
    run, _ = scored_run
    for fmt, name in [("alpaca", "a.json"), ("messages", "m.jsonl"), ("hf", "hfds")]:
        p = run_cli("export", str(run), "--format", fmt, "--out", str(tmp_path / name))
        assert p.returncode == 0 and p.stdout.strip() == f"{N_INSTANCES} records -> {tmp_path / name}"
    assert not list(tmp_path.glob("*.curation.json"))
    from datasets import load_from_disk

    ds = load_from_disk(str(tmp_path / "hfds"))
    assert ds.column_names == ["instruction", "input", "output", "task_key", "is_classification"]
