"""Helpers of the report tests: a run store written the way ``generate`` writes it, with real
instructions (the Self-Instruct seeds and alpaca-libre's accepted/rejected candidates from
../shared/data), and evaluation results in the other engineers' contract formats."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from instructforge.data.store import RunStore

_spec = importlib.util.spec_from_file_location("rp_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
run_cli = _root.run_cli
write_rules = _root.write_rules

REASONS = {
    "too similar": "too_similar",
    "too short": "too_short",
    "blacklist": "blacklist",
    "bad start": "bad_start",
    "error": "bad_format",
    "empty": "too_short",
}
EVIL = "Explain why </script><script>window.__pwned = 1</script> must stay text."


def read_alpaca(shared: Path, limit: int) -> list[dict]:
    out = []
    with open(shared / "alpaca-libre" / "alpaca_libre_tasks_v3.jsonl", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


def build_run(
    run_dir: Path,
    shared: Path,
    limit: int = 400,
    stage: str | None = "instances",
    evil: bool = True,
    target: int | None = None,
) -> dict:
    """A finished run: seeds, candidates (accepted/rejected with reasons), tasks, instance
    rejections, stats. Returns the counts a report must show."""
    seeds = [json.loads(x) for x in (shared / "self-instruct" / "seed_tasks.jsonl").read_text().splitlines()]
    recs = read_alpaca(shared, limit)
    if evil:
        recs.insert(
            5,
            {
                "instruction": EVIL,
                "input": "<b>bold?</b>",
                "output": "It stays text.",
                "status": "ok",
                "similarity": 0.2,
            },
        )
    counts = {"accepted": 0, "rejected": {}, "tasks": 0, "task_rejected": 0, "instance_rejections": 0}
    with RunStore(run_dir) as st, st.transaction():
        for s in seeds:
            st.add(
                "seed",
                s["id"],
                {
                    "id": s["id"],
                    "name": s["name"],
                    "instruction": s["instruction"],
                    "instances": s["instances"],
                    "is_classification": s["is_classification"],
                },
            )
        for i, r in enumerate(recs):
            key = f"r{i // 20:05d}.{i % 20:02d}.00"
            accepted = r["status"] == "ok"
            clf = r["instruction"].lower().startswith(("classify", "identify whether", "is the"))
            reason = None if accepted else REASONS[r["status"]]
            sim = r.get("similarity", (r.get("other") or {}).get("similarity"))
            st.add(
                "candidate",
                key,
                {
                    "instruction": r["instruction"],
                    "round": i // 20,
                    "reason": reason,
                    "detail": None if accepted else f"{r['status']} (alpaca-libre)",
                    "max_rouge_l": sim,
                    "most_similar": seeds[i % len(seeds)]["instruction"],
                    "is_classification": clf,
                },
                "accepted" if accepted else "rejected",
            )
            if not accepted:
                counts["rejected"][reason] = counts["rejected"].get(reason, 0) + 1
                continue
            counts["accepted"] += 1
            task = {
                "id": key,
                "name": "",
                "instruction": r["instruction"],
                "is_classification": clf,
                "instances": [{"input": r["input"], "output": r["output"].strip()}],
            }
            if i % 9 == 4:  # the instance filters dropped everything for some tasks
                task.update(instances=[], reason="no_instances", detail="no instance survived the filters")
                st.add("task", key, task, "rejected")
                st.add(
                    "instance_rejection",
                    f"{key}.0",
                    {"task_key": key, "input": r["input"], "output": r["input"], "reason": "input_equals_output"},
                    "rejected",
                )
                counts["task_rejected"] += 1
                counts["instance_rejections"] += 1
            else:
                st.add("task", key, task, "accepted")
                counts["tasks"] += 1
        st.set_meta(
            "stats",
            {
                "requests": 120,
                "prompt_tokens": 96000,
                "completion_tokens": 31000,
                "cache_hits": 20,
                "cache_misses": 100,
                "wall_seconds": 250.0,
            },
        )
        if stage is not None:
            st.set_meta("stage", stage)
        st.write_config(
            {
                "command": "generate",
                "model": {"model": "scripted:rules.jsonl"},
                "generate": {"num_instructions": target or counts["accepted"], "seed": 0},
            }
        )
    counts["seeds"] = len(seeds)
    counts["candidates"] = len(recs)
    return counts


def induction_results() -> dict:
    tasks = {}
    for i, name in enumerate(["active_to_passive", "antonyms", "cause_and_effect", "larger_animal"]):
        tasks[name] = {
            "execution_accuracy": 0.1 * i,
            "human_execution_accuracy": 0.5 + 0.1 * i,
            "bertscore": 0.3 + 0.05 * i,
            "n_test": 100,
            "instructions": [{"text": f"Do {name}", "count": 3, "accuracy": 0.1 * i}],
        }
    return {
        "kind": "induction",
        "model": "embedded",
        "overall": {
            "execution_accuracy": 0.15,
            "human_execution_accuracy": 0.65,
            "percent_of_human": 23.1,
            "bertscore": 0.375,
        },
        "tasks": tasks,
    }


def superni_results() -> dict:
    tasks = {
        "task020_mctaco_span_based_question": ("Answerability Classification", 31.0, 12.0),
        "task033_winogrande_answer_generation": ("Coreference Resolution", 20.5, 3.0),
        "task036_qasc_topic_word_to_generate_related_fact": ("Keyword Tagging", 15.25, 0.0),
        "task1154_bard_analogical_reasoning_travel": ("Word Analogy", 44.0, 40.0),
    }
    cats: dict = {}
    for _, (c, r, e) in tasks.items():
        cats.setdefault(c, []).append((r, e))
    return {
        "kind": "superni",
        "model": "embedded",
        "overall": {"rougeL": 27.69, "exact_match": 13.75},
        "categories": {
            c: {
                "rougeL": sum(r for r, _ in v) / len(v),
                "exact_match": sum(e for _, e in v) / len(v),
                "n_tasks": len(v),
            }
            for c, v in cats.items()
        },
        "tasks": {n: {"rougeL": r, "exact_match": e, "n": 100, "category": c} for n, (c, r, e) in tasks.items()},
    }


def user_results() -> dict:
    return {
        "kind": "user-oriented",
        "model": "embedded",
        "judge": "embedded",
        "distribution": {"A": 10, "B": 30, "C": 80, "D": 132},
        "n": 252,
    }


def compare_results() -> dict:
    deltas = {"t1": 3.0, "t2": -1.5, "t3": 0.0, "t4": 7.25, "t5": 1.0}
    outcome = {n: "win" if d > 0 else "loss" if d < 0 else "tie" for n, d in deltas.items()}
    return {
        "kind": "compare",
        "a": "eval/base",
        "b": "eval/refined",
        "metric": "rougeL",
        "tasks": {n: {"a": 20.0, "b": 20.0 + d, "delta": d, "outcome": outcome[n]} for n, d in deltas.items()},
        "win": 0.6,
        "tie": 0.2,
        "loss": 0.2,
        "mean_delta": 1.95,
        "ci95": {"mean_delta": [-0.5, 4.6], "win": [0.2, 1.0]},
    }
