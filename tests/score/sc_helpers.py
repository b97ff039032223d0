"""Shared pieces of the score tests: a run store written with the typed records (as ``generate``
writes them), scripted judge rules whose answers depend on the record, and the values the
scores must then have, computed by hand from the rules' log-probabilities."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from conftest import write_rules
from instructforge.data.records import Instance
from instructforge.data.runrecords import Candidate, TaskRecord
from instructforge.data.store import RunStore
from instructforge.feedback.reward import combine

# P(yes) = e^a / (e^a + e^b) for the judge's {"Yes": a, "No": b}
HIGH = {"Yes": -0.1, "No": -2.5}
LOW = {"Yes": -2.5, "No": -0.1}
EVEN = {" yes": -0.7, "no": -0.7}
UNSURE = {"Hmm": -0.1}


def p_yes(lp: dict[str, float]) -> float | None:
    yes = sum(math.exp(v) for k, v in lp.items() if k.strip().lower() == "yes")
    no = sum(math.exp(v) for k, v in lp.items() if k.strip().lower() == "no")
    return yes / (yes + no) if yes + no else None


# The marker words decide every answer about a record (first matching rule wins).
RULES = [
    {"contains": "walrus", "response": "No", "top_logprobs": [LOW]},
    {"contains": "zebra", "response": "Yes", "top_logprobs": [HIGH]},
    {"contains": "quokka", "response": "Hmm", "top_logprobs": [UNSURE]},
    {"default": True, "response": "yes", "top_logprobs": [EVEN]},
]

# (key, instruction, [(input, output), ...]); keys are opaque strings, in the new pipeline's form
TASKS = [
    ("p000001.00", "Give an antonym of the word.", [("cold", "hot zebra"), ("up", "down walrus")]),
    ("p000001.01", "Name a primary color.", [("", "Red is a primary color, zebra.")]),
    ("p000002.00", "Write a short greeting for a friend.", [("", "Hello friend!\nHello friend!\nHello friend!")]),
    ("p000002.01", "Summarize the sentence.", [("The quokka smiled at the visitors.", "A quokka smiled.")]),
    ("p000003.00", "List three fruits.", [("", "")]),
    (
        "p000003.01",
        "Explain why the sky is blue.",
        [("", "It is light. Sunlight scatters off air molecules, and blue light")],
    ),
]
REJECTED = [("p000004.00", "Draw a picture of a cat.")]
N_INSTANCES = sum(len(i) for _, _, i in TASKS)


def make_run(run_dir: Path, tasks=TASKS) -> Path:
    with RunStore(run_dir) as st, st.transaction():
        for key, ins, insts in tasks:
            st.put(Candidate(key=key, instruction=ins, accepted=True, is_classification=False))
            st.put(TaskRecord(key=key, instruction=ins, accepted=True, instances=[Instance(i, o) for i, o in insts]))
        for key, ins in REJECTED:
            st.put(Candidate(key=key, instruction=ins, accepted=False, reason="blacklist", detail="picture"))
        st.set_meta("stage", "instances")
        st.write_config({"command": "generate", "model": {"model": "scripted:x"}, "generate": {"num_instructions": 6}})
    return run_dir


def judge_rules(path: Path) -> str:
    return f"scripted:{write_rules(path, RULES)}"


def answer_lp(*texts: str) -> dict[str, float]:
    """The log-probs the rules give for a prompt holding these texts."""
    blob = "\n".join(texts)
    for marker, lp in (("walrus", LOW), ("zebra", HIGH), ("quokka", UNSURE)):
        if marker in blob:
            return lp
    return EVEN


def expected(instruction: str, inp: str, out: str) -> dict:
    """Every judge score of one record as the rules make it (the judge substitute for Rew)."""
    fb = p_yes(answer_lp(instruction, inp, out)) or 0.5  # feedback: undecided -> neutral 0.5
    return {
        "naturalness": fb,
        "coherence": fb,
        "understandability": fb,
        "rew": fb,
        "reward": combine(fb, fb, fb, fb),
        "audit_p": {
            "instruction": p_yes(answer_lp(instruction)),
            "input": p_yes(answer_lp(instruction, inp)),
            "output": p_yes(answer_lp(instruction, inp, out)),
        },
    }


def score_rows(run_dir: Path) -> dict[str, tuple[int, str]]:
    """key -> (seq, payload) of the stored score records, read with plain SQL."""
    db = sqlite3.connect(str(run_dir / "run.sqlite"))
    try:
        return {k: (s, p) for s, k, p in db.execute("SELECT seq, key, payload FROM records WHERE kind='score'")}
    finally:
        db.close()


def tree(d: Path) -> dict[str, bytes]:
    """Every file under ``d`` with its bytes (to show that nothing was written)."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
