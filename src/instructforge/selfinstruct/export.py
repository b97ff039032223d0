"""Export a run's accepted tasks (paper section 2.2, step 5: "Finetuning the LM").

Formats: ``alpaca`` (a JSON list of instruction/input/output), ``messages`` (chat JSONL
``{"messages": [...]}``), ``prompt-completion`` (JSONL ``{"prompt", "completion"}`` encoded with
one of several templates, chosen per record by a hash so the choice is stable, as the paper
varies its encoding templates), and ``hf`` (a ``datasets`` directory from ``save_to_disk``).
Every file is written atomically; the hf directory is built aside and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from string import Template
from typing import Any

from ..core.io import atomic_write
from ..core.prompts import prompt
from ..data.store import RunStore

FORMATS = ("alpaca", "messages", "prompt-completion", "hf")


def export_records(store: RunStore, include_seeds: bool = False) -> list[dict[str, Any]]:
    """One record per instance of every accepted task (seeds first if asked), in key order (the
    bootstrap's prompt order: the same whatever order the tasks were committed in).

    Besides the exported columns a record holds ``index`` (its place in the task) and ``seed``,
    which a curated export (quality/curate.py) uses to find its score."""
    tasks = [t.task() for t in store.tasks(accepted=True)]
    sources = [(True, t) for t in store.seeds()] if include_seeds else []
    sources += [(False, t) for t in tasks]
    return [
        {
            "instruction": t.instruction,
            "input": inst.input,
            "output": inst.output,
            "task_key": t.id,
            "is_classification": t.is_classification,
            "index": i,
            "seed": seed,
        }
        for seed, t in sources
        for i, inst in enumerate(t.instances)
    ]


def encoding_templates() -> tuple[list[Template], list[Template]]:
    """(templates with an input, templates without), from prompts/encoding_templates.txt: one file
    of templates separated by ``=====`` lines, each a ``$name`` template of its own."""
    text = prompt(__package__, "encoding_templates").template
    all_t = [Template(t.strip("\n")) for t in text.split("=====\n")]
    with_input = [t for t in all_t if "$input" in t.template]
    return with_input, [t for t in all_t if "$input" not in t.template]


def encode(rec: dict[str, Any], templates: tuple[list[Template], list[Template]] | None = None) -> dict[str, str]:
    """Prompt/completion for one record; the template is picked by a hash of the record."""
    with_input, without = templates or encoding_templates()
    choices = with_input if rec["input"].strip() else without
    h = int(hashlib.sha256(f"{rec['instruction']}\x00{rec['input']}".encode()).hexdigest(), 16)
    prompt = choices[h % len(choices)].substitute(instruction=rec["instruction"], input=rec["input"])
    return {"prompt": prompt + "\n", "completion": rec["output"]}


def to_messages(rec: dict[str, Any]) -> dict[str, Any]:
    user = rec["instruction"] + (f"\n\n{rec['input']}" if rec["input"].strip() else "")
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": rec["output"]}]}


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def hf_features() -> Any:
    """The columns of the ``hf`` export (and of ``Run.to_dataset()``)."""
    from datasets import Features, Value

    return Features(
        {
            "instruction": Value("string"),
            "input": Value("string"),
            "output": Value("string"),
            "task_key": Value("string"),
            "is_classification": Value("bool"),
        }
    )


def export_run(store: RunStore, fmt: str, out: Path, include_seeds: bool = False) -> int:
    """Write ``out`` in ``fmt``; returns the number of records."""
    return write_records(export_records(store, include_seeds), fmt, out)


def write_records(recs: list[dict[str, Any]], fmt: str, out: Path) -> int:
    """Write export records (``export_records``, possibly curated) to ``out`` in ``fmt``."""
    if fmt == "alpaca":
        data = [{k: r[k] for k in ("instruction", "input", "output")} for r in recs]
        atomic_write(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "messages":
        atomic_write(out, _jsonl([to_messages(r) for r in recs]))
    elif fmt == "prompt-completion":
        t = encoding_templates()
        atomic_write(out, _jsonl([encode(r, t) for r in recs]))
    elif fmt == "hf":
        from datasets import Dataset

        feats = hf_features()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        try:
            Dataset.from_list([{k: r[k] for k in feats} for r in recs], features=feats).save_to_disk(str(tmp / "ds"))
            if out.exists():
                shutil.rmtree(out)
            (tmp / "ds").rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return len(recs)
