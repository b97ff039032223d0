"""The Instruction Induction benchmark on disk (Honovich et al. 2023, section 3).

A data dir holds ``raw/induce/<task>.json`` (demonstration pool), ``raw/execute/<task>.json``
(test inputs), ``annotations/<task>.json`` (gold instructions) and optionally
``induction_input/<task>.json`` (ready 5-demonstration sets). How a task is scored and how its
test inputs are built comes from ``task_table.json`` (a data file, exact match on ``output`` by
default), so a new task directory in the same format works without code changes.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import iter_jsonl
from .metrics import METRICS, MetricName


@dataclass(slots=True)
class TaskSpec:
    """How one task is scored and rendered (one row of task_table.json)."""

    name: str
    metric: MetricName = "exact_match"
    answers: list[str] = field(default_factory=lambda: ["output"])
    inputs: dict[str, str] = field(default_factory=lambda: {"": "{input}"})
    demo_input: list[str] = field(default_factory=lambda: ["{input}"])
    demo_output: str = "{output}"


@dataclass(slots=True)
class TestItem:
    """One execution prompt's input: ``id`` is the example key, plus ``:variant`` when a task
    builds several prompts from one example (cause_and_effect: ``7:ab`` and ``7:ba``)."""

    id: str
    input: str
    answers: list[str]


@cache
def _packaged_table() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("task_table.json").read_text(encoding="utf-8"))


def load_table(extra: Path | None = None) -> dict[str, Any]:
    """The packaged table, with the rows of ``extra`` (same format) laid over it."""
    table = json.loads(json.dumps(_packaged_table()))
    if extra is not None:
        try:
            more = json.loads(Path(extra).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError.at(extra, 1, f"cannot read task table ({e})") from None
        table["default"].update(more.get("default", {}))
        table["tasks"].update(more.get("tasks", {}))
    return table


def task_spec(name: str, table: dict[str, Any] | None = None) -> TaskSpec:
    table = table or _packaged_table()
    row = {**table["default"], **table["tasks"].get(name, {})}
    row = {k: v for k, v in row.items() if not k.startswith("_")}
    spec = TaskSpec(name=name, **row)
    if spec.metric not in METRICS:
        raise InputError(f"task table: {name}: unknown metric {spec.metric!r} (one of {', '.join(METRICS)})")
    return spec


def fill(template: str, example: dict[str, Any]) -> str:
    """``str.format`` over an example's fields; a list field is joined with ", "."""
    values = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in example.items()}
    return template.format(**values)


def answers_of(example: dict[str, Any], spec: TaskSpec) -> list[str]:
    out: list[str] = []
    for f in spec.answers:
        v = example.get(f)
        for a in v if isinstance(v, list) else [v] if v is not None else []:
            if str(a) not in out:
                out.append(str(a))
    return out


def read_examples(path: Path) -> dict[str, dict[str, Any]]:
    """``{"examples": {id: {...}}}`` from a benchmark JSON file, with a one-line error if not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.at(path, None, "file not found") from None
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), dict):
        raise InputError.at(path, 1, 'expected {"examples": {id: {...}}}')
    return data["examples"]


def task_names(data_dir: Path) -> list[str]:
    ex = data_dir / "raw" / "execute"
    if not ex.is_dir():
        raise InputError.at(data_dir, None, "not an Instruction Induction data dir (no raw/execute/)")
    return sorted(p.stem for p in ex.glob("*.json"))


def check_tasks(data_dir: Path, wanted: list[str] | None) -> list[str]:
    names = task_names(data_dir)
    if not wanted:
        return names
    for t in wanted:
        if t not in names:
            raise InputError.at(data_dir / "raw" / "execute", None, f"unknown task {t!r} (have: {', '.join(names)})")
    return wanted


def test_items(data_dir: Path, task: str, spec: TaskSpec) -> list[TestItem]:
    """Every execution input of a task, in file order, with its acceptable answers."""
    path = data_dir / "raw" / "execute" / f"{task}.json"
    items: list[TestItem] = []
    for key, ex in read_examples(path).items():
        answers = answers_of(ex, spec)
        if not answers:
            raise InputError.at(path, None, f"example {key}: no answer in fields {spec.answers}")
        for variant, template in spec.inputs.items():
            try:
                text = fill(template, ex)
            except KeyError as e:
                raise InputError.at(path, None, f"example {key}: missing field {e} for input {template!r}") from None
            items.append(TestItem(f"{key}:{variant}" if variant else str(key), text, answers))
    return items


def subsample(items: list[TestItem], max_examples: int | None, seed: int) -> list[TestItem]:
    """At most ``max_examples`` examples (all variants of an example stay together), drawn at
    random with ``seed`` and kept in file order. ``None`` keeps everything."""
    keys = list(dict.fromkeys(i.id.split(":")[0] for i in items))
    if max_examples is None or max_examples >= len(keys):
        return items
    keep = set(random.Random(seed).sample(keys, max_examples))
    return [i for i in items if i.id.split(":")[0] in keep]


def gold_instructions(data_dir: Path, task: str) -> list[str]:
    path = data_dir / "annotations" / f"{task}.json"
    if not path.is_file():
        return []
    try:
        anns = json.loads(path.read_text(encoding="utf-8")).get("annotations", [])
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    return [a.strip() for a in anns if isinstance(a, str) and a.strip()]


_DEMO = re.compile(r"Input: (.*?)\nOutput: (.*?)(?=\n\nInput: |\Z)", re.S)


def parse_demo_block(text: str) -> list[tuple[str, str]]:
    """``Input: X\\nOutput: Y`` blocks separated by blank lines -> [(X, Y), ...]."""
    return [(a, b) for a, b in _DEMO.findall(text)]


def pool_demos(data_dir: Path, task: str, spec: TaskSpec, seed: int = 0) -> list[tuple[str, str]]:
    """The task's raw/induce pool as (input, output) demonstrations."""
    path = data_dir / "raw" / "induce" / f"{task}.json"
    rng = random.Random(seed)
    out = []
    for key, ex in read_examples(path).items():
        try:
            out.append((fill(rng.choice(spec.demo_input), ex), fill(spec.demo_output, ex)))
        except KeyError as e:
            raise InputError.at(path, None, f"example {key}: missing field {e}") from None
    return out


def demo_sets(
    data_dir: Path, task: str, spec: TaskSpec, n: int, k: int = 5, seed: int = 0
) -> list[list[tuple[str, str]]]:
    """``n`` sets of ``k`` demonstrations: the paper's ``induction_input`` sets when the file
    exists (first ``n``), then (for more, or without the file) ``k`` distinct examples drawn
    from raw/induce per set."""
    ready = data_dir / "induction_input" / f"{task}.json"
    sets: list[list[tuple[str, str]]] = []
    if ready.is_file():
        for key, ex in list(read_examples(ready).items())[:n]:
            seen = (ex.get("metadata") or {}).get("examples_seen", "")
            demos = parse_demo_block(seen)
            if len(demos) < 1:
                raise InputError.at(ready, None, f"example {key}: no Input/Output blocks in metadata.examples_seen")
            sets.append(demos)
        if len(sets) >= n:
            return sets
    pool = pool_demos(data_dir, task, spec, seed)
    if len(pool) < k:
        raise InputError.at(
            data_dir / "raw" / "induce" / f"{task}.json", None, f"{len(pool)} demonstrations, fewer than k={k}"
        )
    rng = random.Random(seed)
    return sets + [rng.sample(pool, k) for _ in range(n - len(sets))]


def read_predictions(path: Path, known: set[str]) -> dict[str, str]:
    """``{id, prediction}`` JSONL -> {id: prediction}, checked line by line."""
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    preds: dict[str, str] = {}
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or "id" not in row or "prediction" not in row:
            raise InputError.at(path, n, 'expected {"id": ..., "prediction": ...}')
        pid = str(row["id"])
        if pid not in known:
            raise InputError.at(
                path, n, f"unknown id {pid!r} (ids are raw/execute example keys, e.g. {next(iter(known))!r})"
            )
        if pid in preds:
            raise InputError.at(path, n, f"duplicate id {pid!r}")
        if not isinstance(row["prediction"], str):
            raise InputError.at(path, n, "prediction must be a string")
        preds[pid] = row["prediction"]
    if not preds:
        raise InputError.at(path, 1, "no predictions")
    return preds
