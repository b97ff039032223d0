"""``instructforge check``: the validity checks (data/checks.py) alone, no model, over an Alpaca
JSON/JSONL or messages JSONL file, or the accepted instances of a run.

Every record gets every check (instruction checks, record checks, copies of the packaged
instance demonstrations, copies of a pool instruction (``seed_pool``), and the same output for
different instructions earlier in the input);
the result is one line per record in input order, ``{"index": i, "ok": bool, "reasons": [...]}``
(``index`` 0-based over the records as read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..data.checks import VALIDITY_REASONS, RecordChecker
from ..data.formats import read_triples
from ..data.outdir import RUN_DB
from ..data.records import Triple
from ..data.store import RunStore
from ..selfinstruct.instances import load_demos
from ..selfinstruct.seeds import PACKAGED_SEEDS, load_seeds


def demo_texts() -> list[str]:
    """The inputs and outputs of every packaged instance demonstration (what generate's prompts show)."""
    return [t for d in load_demos() for ex in d["examples"] for t in (ex.get("input", ""), ex["output"]) if t]


def read_records(path: Path) -> tuple[str, list[Triple]]:
    """(format, records) of a data file, or (``"run"``, the accepted instances of a run dir in
    task order). Raises InputError (``FILE:LINE: reason``) on bad input, before anything is written."""
    if path.is_dir():
        if not (path / RUN_DB).is_file():
            raise InputError(f"{path}: not a run directory (no {RUN_DB})")
        with RunStore(path, create=False) as store:
            tasks = store.tasks(accepted=True)
        return "run", [Triple(t.instruction, i.input, i.output) for t in tasks for i in t.instances]
    fmt, recs = read_triples(path)
    return fmt, [t for _, t in recs]


def seed_pool(path: Path) -> tuple[list[str], bool]:
    """The instruction pool ``copies_pool_instruction`` starts from, and whether each record's
    instruction joins it: for a run dir its seeds, then its accepted instructions in task order
    (as generate built its pool); for a file the packaged seeds only, as a file's instructions
    may share a template (``In this task, you are given ...``) without copying each other."""
    if path.is_dir():
        with RunStore(path, create=False) as store:
            return [t.instruction for t in store.seeds()], True
    return [t.instruction for t in load_seeds(PACKAGED_SEEDS)], False


def check_records(
    records: list[Triple], checker: RecordChecker | None = None, pool: Iterable[str] = (), grow_pool: bool = False
) -> list[dict[str, Any]]:
    """One result per record, in order: ``{"index", "ok", "reasons", "details"}``. ``pool``: the
    instructions to start ``copies_pool_instruction`` from; ``grow_pool``: each record's
    instruction joins it after its own check."""
    checker = checker or RecordChecker()
    for text in pool:
        checker.add_to_pool(text)
    texts = demo_texts()
    out = []
    for i, t in enumerate(records):
        failed = checker.record(t, texts)
        if grow_pool:
            checker.add_to_pool(t.instruction)
        out.append(
            {"index": i, "ok": not failed, "reasons": [r.reason for r in failed], "details": [r.detail for r in failed]}
        )
    return out


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = Counter(r for res in results for r in res["reasons"])
    ok = sum(res["ok"] for res in results)
    return {
        "records": len(results),
        "ok": ok,
        "flagged": len(results) - ok,
        "by_reason": {r: by[r] for r in VALIDITY_REASONS if by[r]},
    }
