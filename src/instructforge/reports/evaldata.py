"""Find what a report path is (run dir, evaluation dir, compare file) and load evaluation results.

Evaluation results follow the contracts of the evaluation engineers: Instruction Induction
(Honovich et al. 2023: execution accuracy vs the human instruction, BERTScore), SuperNI
(Wang et al. 2022: ROUGE-L and exact match per task and category), the 252 user-oriented
instructions rated A-D (Self-Instruct section 4.4) and ``compare`` (per-task win/tie/loss, the
REFINE-AF headline). Every file is validated before the report writes anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import read_text
from ..data import outdir

EVAL_KINDS = ("induction", "superni", "user-oriented", "compare")

#: keys each kind must have (top level), checked before rendering
REQUIRED: dict[str, tuple[str, ...]] = {
    "induction": ("overall", "tasks"),
    "superni": ("overall", "tasks"),
    "user-oriented": ("distribution",),
    "compare": ("tasks", "win", "tie", "loss"),
}


def read_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"invalid JSON ({e.msg})") from None


def resolve(path: Path) -> tuple[str, Path]:
    """("run", dir) or (eval kind, results file). Raises InputError (exit 2) for anything else."""
    path = Path(path)
    if not path.exists():
        raise InputError.at(path, None, "no such file or directory")
    if path.is_dir():
        if (path / outdir.RUN_DB).is_file():
            return "run", path
        if (path / outdir.EXPERIMENT).is_file():
            return "experiment", path / outdir.EXPERIMENT
        results = path / outdir.RESULTS
        if results.is_file():
            return _kind_of(results), results
        compares = sorted(p for p in path.glob("compare*.json") if p.is_file())
        if len(compares) == 1:
            return _kind_of(compares[0]), compares[0]
        if len(compares) > 1:
            raise InputError.at(path, None, f"{len(compares)} compare files here; pass one of them")
        raise InputError.at(
            path, None, "not a run dir (no run.sqlite) nor an evaluation dir (no results.json or compare*.json)"
        )
    if path.suffix == ".json":
        return _kind_of(path), path
    raise InputError.at(path, None, "not a run dir, an evaluation dir or a results JSON file")


def _kind_of(path: Path) -> str:
    obj = read_json(path)
    if not isinstance(obj, dict) or "kind" not in obj:
        raise InputError.at(path, 1, 'no top-level "kind": not an instructforge results file')
    kind = obj["kind"]
    if kind not in EVAL_KINDS:
        raise InputError.at(path, 1, f'unknown kind "{kind}" (expected one of {", ".join(EVAL_KINDS)})')
    return str(kind)


def load_experiment(path: Path) -> dict[str, Any]:
    """An experiment's results on one page: every comparison first (the experiment's question),
    then every evaluation, each loaded as its own report would load it."""
    obj = read_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("stages"), list):
        raise InputError.at(path, 1, "not an experiment.json (no stages)")
    sections: list[dict[str, Any]] = []
    for row in obj["stages"]:
        out = row.get("output") if isinstance(row, dict) else None
        if row.get("command") not in ("compare", "evaluate superni", "evaluate user-oriented") or not out:
            continue
        kind, src = resolve(Path(out))
        sections.append({"stage": row.get("stage"), **load_eval(kind, src)})
    if not sections:
        raise InputError.at(path, 1, "the experiment has no finished evaluation or comparison to report")
    sections.sort(key=lambda s: s["kind"] != "compare")
    from .usage import from_experiment

    return {
        "kind": "experiment",
        "path": str(path),
        "file": obj.get("file"),
        "sections": sections,
        "usage": from_experiment(Path(path).parent),  # every stage's ledger, summed
    }


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def load_eval(kind: str, path: Path) -> dict[str, Any]:
    """The results as the page needs them, after checking the contract's keys and types."""
    obj = read_json(path)
    missing = [k for k in REQUIRED[kind] if k not in obj]
    if missing:
        raise InputError.at(path, 1, f"{kind} results lack {', '.join(repr(m) for m in missing)}")
    data: dict[str, Any] = {"kind": kind, "path": str(path), "model": obj.get("model")}
    if kind in ("induction", "superni", "compare"):
        if not isinstance(obj["tasks"], dict):
            raise InputError.at(path, 1, '"tasks" must be an object {task name: scores}')
        for name, t in obj["tasks"].items():
            if not isinstance(t, dict):
                raise InputError.at(path, 1, f'task "{name}": scores must be an object')
    if kind == "induction":
        data["overall"] = obj["overall"]
        data["tasks"] = {
            n: {
                "execution_accuracy": _num(t.get("execution_accuracy")),
                "human_execution_accuracy": _num(t.get("human_execution_accuracy")),
                "bertscore": _num(t.get("bertscore")),
                "n_test": t.get("n_test"),
                "top_instruction": (t.get("instructions") or [{}])[0].get("text"),
            }
            for n, t in sorted(obj["tasks"].items())
        }
    elif kind == "superni":
        data["overall"] = obj["overall"]
        data["categories"] = {
            c: {"rougeL": _num(v.get("rougeL")), "exact_match": _num(v.get("exact_match")), "n_tasks": v.get("n_tasks")}
            for c, v in sorted((obj.get("categories") or {}).items())
        }
        data["tasks"] = {
            n: {
                "rougeL": _num(t.get("rougeL")),
                "exact_match": _num(t.get("exact_match")),
                "n": t.get("n"),
                "category": t.get("category"),
            }
            for n, t in sorted(obj["tasks"].items())
        }
    elif kind == "user-oriented":
        dist = obj["distribution"]
        if not isinstance(dist, dict) or any(not isinstance(dist.get(g, 0), int) for g in "ABCD"):
            raise InputError.at(path, 1, '"distribution" must map A, B, C, D to counts')
        data.update(
            judge=obj.get("judge"),
            n=obj.get("n", sum(dist.get(g, 0) for g in "ABCD")),
            distribution={g: int(dist.get(g, 0)) for g in "ABCD"},
        )
    else:  # compare
        for k in ("win", "tie", "loss"):
            if _num(obj[k]) is None:
                raise InputError.at(path, 1, f'"{k}" must be a number (share of tasks)')
        # win/tie/loss are shares of tasks (B against A); counts come from the per-task outcomes.
        data.update(
            a=obj.get("a"),
            b=obj.get("b"),
            a_model=obj.get("a_model"),
            b_model=obj.get("b_model"),
            metric=obj.get("metric"),
            eval_kind=obj.get("eval_kind"),
            share={k: float(obj[k]) for k in ("win", "tie", "loss")},
            counts={k: sum(1 for t in obj["tasks"].values() if t.get("outcome") == k) for k in ("win", "tie", "loss")},
            mean_delta=_num(obj.get("mean_delta")),
            ci95=obj.get("ci95") or {},
        )
        data["tasks"] = {
            n: {
                "a": _num(t.get("a")),
                "b": _num(t.get("b")),
                "delta": _num(t.get("delta")),
                "outcome": t.get("outcome"),
            }
            for n, t in sorted(obj["tasks"].items(), key=lambda kv: -(_num(kv[1].get("delta")) or 0))
        }
    from .usage import from_dir

    data["usage"] = from_dir(path.parent)  # usage.json next to results.json
    return data
