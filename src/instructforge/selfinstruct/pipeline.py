"""The whole Self-Instruct run (paper section 2.2, steps 1-4) over a resumable run store.

Stages commit as they go and record how far they got (meta ``stage``), so running the same
command again after a crash or a SIGKILL continues where the store stands. ``--from-run``
copies the accepted, classified instructions of another run and only writes instances (the
REFINE-AF stage-3 use: new instances from a refined model).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .. import ui
from ..cli_common import write_json
from ..errors import InputError
from ..llm import LLM
from ..records import Task
from ..store import RunStore
from .alpaca import AlpacaRounds
from .bootstrap import SelfInstructRounds, run_rounds
from .classify import run_classify
from .common import StageContext
from .config import GenerateConfig
from .instances import run_instances


def read_source_run(run_dir: Path) -> tuple[list[Task], list[tuple[str, str, dict[str, Any]]]]:
    """Seeds and accepted, classified candidates of an existing run (validated, read-only)."""
    if not (Path(run_dir) / "run.sqlite").is_file():
        raise InputError(f"{run_dir}: not a run directory (no run.sqlite)")
    src = RunStore(run_dir, create=False)
    try:
        seeds = [Task.from_dict(p) for _, _, p in src.iter("seed")]
        cands = list(src.iter("candidate", "accepted"))
        if (src.read_config().get("generate") or {}).get("mode") == "alpaca":
            # Alpaca runs have no classification step: their tasks are treated as ordinary ones.
            cands = [(k, s, {"is_classification": False, **p}) for k, s, p in cands]
    finally:
        src.close()
    if not cands:
        raise InputError(f"{run_dir}: the run has no accepted instructions")
    missing = [k for k, _, p in cands if "is_classification" not in p]
    if missing:
        raise InputError(f"{run_dir}: {len(missing)} instructions are not classified yet "
                         "(finish that run first: rerun its generate command)")
    return seeds, cands


def store_seeds(store: RunStore, seeds: list[Task]) -> None:
    with store.transaction():
        for t in seeds:
            store.add("seed", t.id, t.to_dict(), "seed")
        store.set_meta("num_seeds", len(seeds))


def run_generate(store: RunStore, llm: LLM, cfg: GenerateConfig, seeds: list[Task],
                 source: list[tuple[str, str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Run (or resume) every stage, then write summary.json and return the summary."""
    store_seeds(store, seeds)
    ctx = StageContext(store, llm, cfg)
    if source is not None:
        with store.transaction():
            for key, status, payload in source:
                store.add("candidate", key, payload, status)
            store.set_meta("from_run", True)
        store.set_meta("stage", "classify")
    elif cfg.mode == "alpaca":
        run_rounds(ctx, seeds, AlpacaRounds(cfg, seeds))
        store.set_meta("stage", "instances")
    else:
        run_rounds(ctx, seeds, SelfInstructRounds(cfg, seeds))
        store.set_meta("stage", "bootstrap")
        run_classify(ctx)
        store.set_meta("stage", "classify")
    if cfg.mode != "alpaca" or source is not None:
        run_instances(ctx)
        store.set_meta("stage", "instances")
    with store.transaction():
        ctx.commit_stats()
    summary = summarize(store)
    write_json(store.dir / "summary.json", summary)
    show_summary(summary)
    return summary


def summarize(store: RunStore) -> dict[str, Any]:
    cands = list(store.iter("candidate"))
    reasons = Counter(p.get("reason") for _, s, p in cands if s == "rejected")
    accepted = sum(1 for _, s, _ in cands if s == "accepted")
    judged = len(cands) - reasons.get("surplus", 0)
    tasks = list(store.iter("task"))
    inst_reasons = Counter(p["reason"] for _, _, p in store.iter("instance_rejection"))
    clf = Counter(bool(p["is_classification"]) for _, s, p in cands if s == "accepted" and "is_classification" in p)
    return {
        "stage": store.get_meta("stage"),
        "num_seeds": store.get_meta("num_seeds", 0),
        "rounds": store.get_meta("rounds", 0),
        "candidates": len(cands),
        "accepted": accepted,
        "rejected": len(cands) - accepted,
        # surplus candidates (the target was already reached in their round) were never judged
        "acceptance_rate": round(accepted / judged, 4) if judged else None,
        "rejections_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "classification": {"yes": clf.get(True, 0), "no": clf.get(False, 0)},
        "tasks_accepted": sum(1 for _, s, _ in tasks if s == "accepted"),
        "tasks_rejected": dict(Counter(p.get("reason") for _, s, p in tasks if s == "rejected")),
        "instances": sum(len(p["instances"]) for _, s, p in tasks if s == "accepted"),
        "instance_rejections_by_reason": dict(sorted(inst_reasons.items(), key=lambda kv: -kv[1])),
        "stats": store.get_meta("stats", {}),
    }


def show_summary(s: dict[str, Any]) -> None:
    st = s["stats"]
    rate = f"{s['acceptance_rate']:.1%}" if s["acceptance_rate"] is not None else "-"
    ui.show(ui.table("generate summary", ["metric", "value"], [
        ["candidates (accepted / rejected)", f"{s['candidates']} ({s['accepted']} / {s['rejected']})"],
        ["acceptance rate", rate],
        ["classification (yes / no)", f"{s['classification']['yes']} / {s['classification']['no']}"],
        ["tasks with instances", s["tasks_accepted"]],
        ["instances", s["instances"]],
        ["requests (cache hits)", f"{st.get('requests', 0)} ({st.get('cache_hits', 0)})"],
        ["tokens (prompt / completion)", f"{st.get('prompt_tokens', 0)} / {st.get('completion_tokens', 0)}"],
        ["wall seconds", st.get("wall_seconds", 0)],
    ]))
    rows = [[r, n] for r, n in s["rejections_by_reason"].items()]
    rows += [[f"task: {r}", n] for r, n in s["tasks_rejected"].items()]
    rows += [[f"instance: {r}", n] for r, n in s["instance_rejections_by_reason"].items()]
    if rows:
        ui.show(ui.table("rejections by reason", ["reason", "count"], rows))
