"""The validity checks (data/checks.py) against labelled records: junk caught, human records kept.

Inputs:
- benchmarks/data/validity_labelled.jsonl: records the embedded model generated (several seeds,
  input-first and output-first tasks), each labelled ``ok`` or ``junk`` by hand following
  docs/labelling.md, with a short reason (``why``);
- human-written records that must pass: every instance of the Self-Instruct seed tasks and of
  the 252 user-oriented instructions, read from ../shared/data/self-instruct/ (never copied
  here), and benchmarks/data/validity_human.jsonl (written for this project).

Each group (one generate run, one human file) gets its own checker, as one run or one
`instructforge check` would, in file order. Prints per check: the junk it catches (recall), the
share of its flags that are junk (precision, over generated and human records), and the human
records it flags; then overall junk recall and human records kept (goals: >= 90%, >= 97%).

    python benchmarks/validity.py --json benchmarks/results/validity.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from instructforge.data.checks import VALIDITY_REASONS, RecordChecker
from instructforge.data.records import Triple
from instructforge.quality.validity import demo_texts
from instructforge.selfinstruct.seeds import PACKAGED_SEEDS, load_seeds

HERE = Path(__file__).parent
SHARED = HERE.parents[1] / "shared" / "data" / "self-instruct"


def shared_records(name: str) -> list[Triple]:
    out = []
    for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out += [Triple(d["instruction"], i.get("input", ""), i["output"]) for i in d["instances"]]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labelled", type=Path, default=HERE / "data" / "validity_labelled.jsonl")
    ap.add_argument("--human", type=Path, default=HERE / "data" / "validity_human.jsonl")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--show-misses", action="store_true", help="Print junk not caught and human records flagged.")
    a = ap.parse_args()
    globals()["SHARED"] = a.shared
    texts = demo_texts()

    groups: dict[str, list[tuple[Triple, bool, str]]] = defaultdict(list)  # group -> (record, junk, why)
    for line in a.labelled.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            kind = d.get("kind", "record")  # "instruction": a bootstrap candidate alone
            t = Triple(d["instruction"], d["input"], d["output"])
            groups[f"embedded seed {d['seed']} {kind}"].append((t, d["label"] == "junk", d["why"]))
    generated = sum(len(v) for v in groups.values())
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        groups[f"human {name}"] = [(t, False, "human") for t in shared_records(name)]
    own = [json.loads(x) for x in a.human.read_text(encoding="utf-8").splitlines() if x.strip()]
    groups["human validity_human.jsonl"] = [
        (Triple(d["instruction"], d.get("input", ""), d["output"]), False, "human") for d in own
    ]

    seeds = [t.instruction for t in load_seeds(PACKAGED_SEEDS)]  # what the generate runs started from
    rows = []  # (group, junk, reasons, record, why)
    for g, recs in groups.items():
        checker = RecordChecker()
        for s in seeds:  # the pool copies_pool_instruction compares with, as generate and check have it
            checker.add_to_pool(s)
        for t, junk, why in recs:
            # an instruction alone (a bootstrap candidate the paper's filters accepted): its checks only
            failed = checker.instruction(t.instruction) if g.endswith(" instruction") else checker.record(t, texts)
            rows.append((g, junk, [r.reason for r in failed], t, why))
            if not g.startswith("human"):  # a run's pool grows by its instructions; a file's does not
                checker.add_to_pool(t.instruction)

    human = [r for r in rows if r[0].startswith("human")]
    gen = [r for r in rows if not r[0].startswith("human")]
    junk = [r for r in gen if r[1]]
    per_check = {}
    for reason in VALIDITY_REASONS:
        flagged = [r for r in rows if reason in r[2]]
        caught = [r for r in junk if reason in r[2]]
        per_check[reason] = {
            "flagged": len(flagged),
            "junk_caught": len(caught),
            "recall": round(len(caught) / len(junk), 4) if junk else None,
            "precision": round(sum(r[1] for r in flagged) / len(flagged), 4) if flagged else None,
            "human_flagged": sum(1 for r in flagged if r[0].startswith("human")),
            "generated_ok_flagged": sum(1 for r in flagged if not r[0].startswith("human") and not r[1]),
        }
    caught = sum(1 for r in junk if r[2])
    gen_ok = [r for r in gen if not r[1]]
    overall = {
        "generated": generated,
        "generated_junk": len(junk),
        "generated_ok": len(gen_ok),
        "human": len(human),
        "junk_recall": round(caught / len(junk), 4) if junk else None,
        "human_kept": round(sum(1 for r in human if not r[2]) / len(human), 4),
        "generated_ok_kept": round(sum(1 for r in gen_ok if not r[2]) / len(gen_ok), 4) if gen_ok else None,
        "precision": round(caught / max(1, sum(1 for r in rows if r[2])), 4),
    }
    print(f"{'check':26} {'flagged':>7} {'junk':>5} {'recall':>7} {'precision':>9} {'human':>6} {'gen ok':>6}")
    for reason, c in per_check.items():
        rec = "-" if c["recall"] is None else f"{c['recall']:.1%}"
        prec = "-" if c["precision"] is None else f"{c['precision']:.1%}"
        print(
            f"{reason:26} {c['flagged']:7} {c['junk_caught']:5} {rec:>7} {prec:>9} {c['human_flagged']:6} {c['generated_ok_flagged']:6}"
        )

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    print(
        f"overall: junk recall {pct(overall['junk_recall'])} ({caught}/{len(junk)}), human records kept "
        f"{pct(overall['human_kept'])} of {len(human)}, generated ok kept {pct(overall['generated_ok_kept'])} of "
        f"{len(gen_ok)}, precision {pct(overall['precision'])}"
    )
    by_group = {}
    for g in groups:
        gr = [r for r in rows if r[0] == g]
        gj = [r for r in gr if r[1]]
        by_group[g] = {
            "records": len(gr),
            "junk": len(gj),
            "junk_caught": sum(1 for r in gj if r[2]),
            "ok_flagged": sum(1 for r in gr if not r[1] and r[2]),
        }
        print(f"  {g:45} {by_group[g]}")
    if a.show_misses:
        for g, j, reasons, t, why in rows:
            if (j and not reasons) or (g.startswith("human") and reasons):
                print(
                    f"{'MISSED' if j else 'FLAGGED'} [{g}] {reasons} {why} | {t.instruction[:80]!r} -> {t.output[:80]!r}"
                )
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(
            json.dumps({"overall": overall, "per_check": per_check, "by_group": by_group}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
