"""Export a run's accepted tasks (paper section 2.2, step 5: "Finetuning the LM").

Formats: ``alpaca`` (a JSON list of instruction/input/output), ``messages`` (chat JSONL
``{"messages": [...]}``), ``prompt-completion`` (JSONL ``{"prompt", "completion"}``: step 5's
encoding, ``finetuning_pairs``), and ``hf`` (a ``datasets`` directory from ``save_to_disk``).
Every file is written atomically; the hf directory is built aside and renamed into place.

Step 5 as the paper's code does it (prepare_for_finetuning.py), with instructforge's own
templates (prompts/encoding_templates.txt): per instance, seeded, half the time the input loses
a single leading field label ("Sentence: ...") and its blank lines; then a template is drawn at
random (one with an input slot when the input is not empty); pairs whose prompt and completion
both repeat an earlier pair are removed. SFT uses the same function (``SFTConfig.encoding``).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from string import Template
from typing import Any

from ..core.prompts import prompt
from ..data import formats
from ..data.store import RunStore

FORMATS = formats.EXPORT_FORMATS


def export_records(store: RunStore, include_seeds: bool = False) -> list[dict[str, Any]]:
    """One record per instance of every accepted task (seeds first if asked), in key order (the
    bootstrap's prompt order: the same whatever order the tasks were committed in).

    Besides the exported columns a record holds ``index`` (its place in the task) and ``seed``,
    which a curated export (quality/curate.py) uses to find its score."""
    tasks = [t.task() for t in store.tasks(accepted=True)]
    sources = [(True, t) for t in store.seeds()] if include_seeds else []
    sources += [(False, t) for t in tasks]
    return [
        {**tr.as_dict(), "task_key": t.id, "is_classification": t.is_classification, "index": i, "seed": seed}
        for seed, t in sources
        for i, tr in enumerate(t.triples())
    ]


def encoding_templates() -> tuple[list[Template], list[Template]]:
    """(templates with an input, templates without), from prompts/encoding_templates.txt: one file
    of templates separated by ``=====`` lines, each a ``$name`` template of its own."""
    text = prompt(__package__, "encoding_templates").template
    all_t = [Template(t.strip("\n")) for t in text.split("=====\n")]
    with_input = [t for t in all_t if "$input" in t.template]
    return with_input, [t for t in all_t if "$input" not in t.template]


def encode(
    rec: dict[str, Any],
    templates: tuple[list[Template], list[Template]] | None = None,
    rng: random.Random | None = None,
) -> dict[str, str]:
    """Prompt/completion for one record through a template drawn with ``rng`` (seed 0 if none)."""
    with_input, without = templates or encoding_templates()
    inp = rec["input"].strip()
    choices = with_input if inp else without
    template = (rng or random.Random(0)).choice(choices)
    prompt = template.substitute(instruction=rec["instruction"].strip(), input=inp)
    return {"prompt": prompt + "\n", "completion": rec["output"].strip()}


_LABEL = re.compile(r"^[ \t]*([A-Za-z][A-Za-z' ]{0,40}?)[ \t]*:", re.M)


def strip_field_label(text: str) -> str:
    """The input without its field label when it has exactly one, at its start.

    The paper's code cuts before the first colon whenever one distinct ``word:`` occurs anywhere
    ("The time is 10:30" loses "The time is 10:"); here only a label that starts the input and
    is the only label at the start of any line is removed, so inputs of several fields keep
    all of theirs.

    >>> strip_field_label("Sentence: The cat sat.")
    'The cat sat.'
    >>> strip_field_label("Document: A.\nClaim: B.")
    'Document: A.\nClaim: B.'
    >>> strip_field_label("Meet at 10:30.")
    'Meet at 10:30.'
    """
    labels = _LABEL.findall(text)
    m = _LABEL.match(text)
    if m is None or len(set(labels)) != 1:
        return text
    return text[m.end() :].strip()


def finetuning_pairs(recs: list[dict[str, Any]], seed: int = 0) -> list[dict[str, str]]:
    """Step 5's prompt/completion pairs of export records (or any instruction/input/output
    rows), in record order: per record, with one ``random.Random(seed)`` drawn in order, half
    the time the input loses a single leading field label (``strip_field_label``) and its blank
    lines; then a template is drawn. A pair equal to an earlier one is removed."""
    rng = random.Random(seed)
    templates = encoding_templates()
    out, seen = [], set()
    for rec in recs:
        inp = rec["input"].strip()
        if rng.random() < 0.5:
            inp = re.sub(r"\n\s*\n", "\n", strip_field_label(inp))
        pair = encode({**rec, "input": inp}, templates, rng)
        key = (pair["prompt"], pair["completion"])
        if key not in seen:
            seen.add(key)
            out.append(pair)
    return out


def run_seed(store: RunStore) -> int:
    """The seed of the run's generate config (0 if none): the seed of its step-5 encoding."""
    return int((store.read_config().get("generate") or {}).get("seed") or 0)


def export_run(store: RunStore, fmt: str, out: Path, include_seeds: bool = False) -> int:
    """Write ``out`` in ``fmt``; returns the number of records written."""
    return write_records(export_records(store, include_seeds), fmt, out, run_seed(store))


def write_records(recs: list[dict[str, Any]], fmt: str, out: Path, seed: int = 0) -> int:
    """Write export records (``export_records``, possibly curated) to ``out`` in ``fmt``;
    returns the number written (prompt-completion: after removing repeated pairs). ``seed``:
    of the prompt-completion encoding."""
    if fmt == "prompt-completion":
        pairs = finetuning_pairs(recs, seed)
        formats.write_export(out, fmt, pairs)
        return len(pairs)
    formats.write_export(out, fmt, recs)
    return len(recs)
