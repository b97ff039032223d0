"""The one reader and writer of instruction-data files: Alpaca JSON lists, Alpaca JSONL, messages
JSONL, prompt/completion JSONL, the Self-Instruct task JSONL of seed files, and the ``hf``
(``datasets``) directory of ``export --format hf``.

Readers check everything before anything is written; a problem is one ``InputError`` naming
``FILE:LINE`` (exit 2). Writers write atomically (``core.io``; the hf directory is
built aside and renamed into place). Who reads what:

- ``read_tasks``: seed files (``selfinstruct.seeds``: Self-Instruct JSONL, plain JSONL, Alpaca JSON);
- ``read_triples``: ``score --data`` (``quality.data``: Alpaca JSON/JSONL, messages JSONL);
- ``read_examples``: ``finetune --data`` (``train.sft``: every export format);
- ``read_rows``: the values of any JSON-list or JSONL file (benchmark files of ``quality.decontaminate``);
  (readers with messages of their own, ``selfinstruct.novelty``'s lenient ``read_records`` and the
  packaged demonstrations of ``selfinstruct.classify`` and ``.instances``, take JSONL lines from
  ``core.io.json_lines``, which ``core.io.iter_jsonl`` and so ``read_rows`` are built on);
- ``write_export``: ``export`` and curated exports (``selfinstruct.export``, ``quality.curate``);
- ``write_tasks``: seed files (``induce --as-seeds``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..core.errors import InputError
from ..core.io import iter_jsonl, read_text, write_json, write_jsonl
from .records import Instance, Task, Triple

T = TypeVar("T")
Rows = list[tuple[int, Any]]  # (line a value starts on, the value)


def json_list(text: str, path: Path) -> Rows:
    """Elements of a top-level JSON list with the line each starts on."""
    dec = json.JSONDecoder()
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    items: Rows = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items
        obj, end = dec.raw_decode(text, pos)
        items.append((text.count("\n", 0, pos) + 1, obj))
        pos = end


def read_rows(path: Path, what: str = "data file") -> tuple[bool, Rows]:
    """(is a JSON list, its values with their lines) of a JSON-list or JSONL file."""
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    text = read_text(path)
    if text.lstrip().startswith("["):
        return True, json_list(text, path)
    return False, list(iter_jsonl(path, text))


def json_object(obj: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InputError.at(path, line, f"expected a JSON object, not {type(obj).__name__}")
    return obj


def str_field(obj: dict[str, Any], name: str, path: Path, line: int, *, required: bool = True) -> str:
    if name not in obj:
        if required:
            raise InputError.at(path, line, f'missing "{name}"')
        return ""
    v = obj[name]
    if not isinstance(v, str):
        raise InputError.at(path, line, f'"{name}" must be a string, not {type(v).__name__}')
    return v


def one_kind(
    rows: Rows, path: Path, kind_of: Callable[[dict[str, Any], int], str], parse: Callable[[str, Any, int], T]
) -> tuple[str, list[T]]:
    """(the file's kind, each row parsed as its kind) of JSONL rows that must all be of one kind."""
    fmt, out = "", []
    for line, obj in rows:
        kind = kind_of(json_object(obj, path, line), line)
        if fmt and kind != fmt:
            raise InputError.at(path, line, f"a {kind} record in a file of {fmt} records")
        fmt = kind
        out.append(parse(kind, obj, line))
    return fmt, out


# -- records ------------------------------------------------------------------------------------


def alpaca_triple(obj: Any, path: Path, line: int) -> Triple:
    """An ``{"instruction", "input", "output"}`` object (a missing or null input is empty)."""
    obj = json_object(obj, path, line)
    return Triple(
        str_field(obj, "instruction", path, line),
        str_field(obj, "input", path, line, required=False) if obj.get("input") is not None else "",
        str_field(obj, "output", path, line),
    )


def messages(obj: dict[str, Any], path: Path, line: int, min_messages: int = 1) -> list[dict[str, str]]:
    """The ``"messages"`` of a messages record: role/content strings, the last the assistant's answer."""
    msgs = obj["messages"]
    if (
        not isinstance(msgs, list)
        or len(msgs) < min_messages
        or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in msgs
        )
    ):
        at_least = f">= {min_messages} " if min_messages > 1 else ""
        raise InputError.at(path, line, f'"messages" must be a list of {at_least}{{"role", "content"}} strings')
    if not msgs or msgs[-1]["role"] != "assistant":
        raise InputError.at(path, line, "the last message must be the assistant's answer")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def messages_triple(obj: dict[str, Any], path: Path, line: int) -> Triple:
    """A messages record as a triple: the last user message before the answer, no input, the answer."""
    msgs = messages(obj, path, line)
    users = [m["content"] for m in msgs[:-1] if m["role"] == "user"]
    if not users:
        raise InputError.at(path, line, "no user message before the assistant's answer")
    return Triple(users[-1], "", msgs[-1]["content"])


def seed_task(obj: Any, path: Path, line: int, n: int) -> Task:
    """A Self-Instruct task object (with ``instances``) or a plain instruction/input/output one."""
    obj = json_object(obj, path, line)
    instruction = str_field(obj, "instruction", path, line).strip()
    if not instruction:
        raise InputError.at(path, line, '"instruction" is empty')
    if "instances" in obj:
        raw = obj["instances"]
        if not isinstance(raw, list):
            raise InputError.at(path, line, '"instances" must be a list')
    else:
        raw = [obj]
    instances = []
    for inst in raw:
        if not isinstance(inst, dict):
            raise InputError.at(path, line, "each instance must be an object with input and output")
        instances.append(
            Instance(str_field(inst, "input", path, line, required=False), str_field(inst, "output", path, line))
        )
    clf = obj.get("is_classification", False)
    if not isinstance(clf, bool):
        raise InputError.at(path, line, '"is_classification" must be true or false')
    sid = obj.get("id", f"seed_{n}")
    if not isinstance(sid, str | int):
        raise InputError.at(path, line, '"id" must be a string')
    return Task(instruction, instances, clf, str(sid), str_field(obj, "name", path, line, required=False))


# -- readers ------------------------------------------------------------------------------------


def read_tasks(path: Path) -> list[tuple[int, Task]]:
    """The tasks of a seed file (Self-Instruct JSONL, plain JSONL or an Alpaca JSON list), with lines."""
    _, rows = read_rows(path, "seed file")
    return [(line, seed_task(obj, path, line, n)) for n, (line, obj) in enumerate(rows)]


def read_triples(path: Path) -> tuple[str, list[tuple[int, Triple]]]:
    """(``alpaca`` | ``alpaca-jsonl`` | ``messages``, triples with their lines) of a data file."""
    is_list, rows = read_rows(path)
    if is_list:
        recs = [(line, alpaca_triple(obj, path, line)) for line, obj in rows]
        fmt = "alpaca"
    else:
        fmt, recs = one_kind(
            rows,
            path,
            lambda o, _: "messages" if "messages" in o else "alpaca-jsonl",
            lambda kind, o, line: (line, (messages_triple if kind == "messages" else alpaca_triple)(o, path, line)),
        )
    if not recs:
        raise InputError.at(path, None, "no records in the file")
    return fmt, recs


def _training_triple(obj: Any, path: Path, line: int) -> dict[str, str]:
    t = alpaca_triple(obj, path, line)
    if not t.instruction.strip() or not t.output.strip():
        raise InputError.at(path, line, "empty instruction or output")
    return t.as_dict()


def _example_kind(obj: dict[str, Any], line: int, path: Path) -> str:
    for key, kind in (("messages", "messages"), ("prompt", "prompt-completion"), ("instruction", "alpaca")):
        if key in obj:
            return kind
    raise InputError.at(path, line, 'expected "messages", "prompt"/"completion" or "instruction"/"output"')


def _example(kind: str, obj: dict[str, Any], path: Path, line: int) -> dict[str, Any]:
    if kind == "messages":
        return {"messages": messages(obj, path, line, min_messages=2)}
    if kind == "alpaca":
        return _training_triple(obj, path, line)
    row = {"prompt": str_field(obj, "prompt", path, line), "completion": str_field(obj, "completion", path, line)}
    if not row["completion"].strip():
        raise InputError.at(path, line, "empty completion")
    return row


def read_examples(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(format, rows as alpaca / messages / prompt-completion dicts) of a training file or hf dir."""
    if path.is_dir():
        if not (path / "dataset_info.json").is_file():
            raise InputError(f"{path}: a directory must be an HF dataset saved by `export --format hf`")
        from datasets import load_from_disk

        fmt, rows = "hf", [_training_triple(r, path, n) for n, r in enumerate(load_from_disk(str(path)), 1)]
    else:
        is_list, values = read_rows(path)
        if is_list:
            fmt, rows = "alpaca", [_training_triple(o, path, n) for n, o in values]
        else:
            fmt, rows = one_kind(
                values, path, lambda o, line: _example_kind(o, line, path), lambda k, o, n: _example(k, o, path, n)
            )
    if not rows:
        raise InputError.at(path, 1, "no training examples")
    return fmt, rows


# -- writers ------------------------------------------------------------------------------------

EXPORT_FORMATS = ("alpaca", "messages", "prompt-completion", "hf")


def write_alpaca(out: Path, triples: Sequence[Triple]) -> None:
    """An Alpaca JSON list of instruction/input/output objects."""
    write_json(out, [t.as_dict() for t in triples])


def user_text(t: Triple) -> str:
    """The instruction, and after a blank line the input if there is one: the user's turn of a triple."""
    return t.instruction + (f"\n\n{t.input}" if t.input.strip() else "")


def to_messages(t: Triple) -> dict[str, Any]:
    """A messages record: ``user_text`` as the user, the output as the answer."""
    return {"messages": [{"role": "user", "content": user_text(t)}, {"role": "assistant", "content": t.output}]}


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


def hf_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of the ``hf_features`` columns of export records."""
    from datasets import Dataset

    feats = hf_features()
    # by columns: an empty export (every record rejected) is a dataset with no rows, not an error
    return Dataset.from_dict({k: [r[k] for r in rows] for k in feats}, features=feats)


def write_hf(out: Path, rows: Sequence[dict[str, Any]]) -> None:
    """A ``datasets`` directory of ``hf_dataset(rows)``, built aside and renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        ds = hf_dataset(rows)
        # an empty export still gets one (empty) shard, so load_from_disk reads it back
        ds.save_to_disk(str(tmp / "ds"), **({"num_shards": 1} if len(ds) == 0 else {}))
        if out.exists():
            shutil.rmtree(out)
        (tmp / "ds").rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_export(out: Path, fmt: str, rows: Sequence[dict[str, Any]]) -> None:
    """Export rows to ``out`` in ``fmt`` (``EXPORT_FORMATS``): alpaca, messages and hf take export
    records (instruction, input, output, task_key, is_classification); prompt-completion takes
    the encoded ``{prompt, completion}`` pairs (``selfinstruct.export.finetuning_pairs``)."""
    if fmt == "alpaca":
        write_alpaca(out, [Triple.from_dict(r) for r in rows])
    elif fmt == "messages":
        write_jsonl(out, [to_messages(Triple.from_dict(r)) for r in rows])
    elif fmt == "prompt-completion":
        write_jsonl(out, rows)
    elif fmt == "hf":
        write_hf(out, rows)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def write_tasks(out: Path, tasks: Sequence[Task]) -> None:
    """A seed file: one Self-Instruct task object a line (what ``read_tasks`` reads back)."""
    write_jsonl(out, [t.to_dict() for t in tasks])
