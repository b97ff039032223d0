"""Steps 3-4 of Self-Instruct (paper section 2.2, "Instance Generation" and "Filtering").

Input-first for ordinary tasks (the model writes an input, then its output), output-first for
classification tasks (a class label first, then an input for it), so that labels are not
skewed towards whatever input the model thinks of first. Temperature 0, presence penalty 1.5,
up to 5 instances per task. ``instance_prompt`` and ``parse_instances`` are public: REFINE-AF
reuses them with its refined model. pipeline.py sends one request per task as soon as the task
is classified.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..prompts import render
from ..records import Completion, Instance, Request, SamplingParams
from ..runrecords import InstanceRejection, TaskRecord
from .common import make_request
from .config import GenerateConfig
from .filters import filter_instances

DEMOS_FILE = Path(__file__).parent / "data" / "instance_demos.jsonl"
Demo = dict[str, Any]  # {"style", "instruction", "examples": [{"input", "output"}]}


@cache
def load_demos(path: Path = DEMOS_FILE) -> tuple[Demo, ...]:
    if not path.is_file():
        raise InputError(f"{path}: instance demonstrations not found (packaged data missing)")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                d = json.loads(line)
                assert d["style"] in ("input_first", "output_first") and d["examples"]
                out.append(d)
            except (json.JSONDecodeError, KeyError, TypeError, AssertionError) as e:
                raise InputError.at(path, n, f"bad instance demonstration ({e!r})") from None
    return tuple(out)


def _render_input_first(demo: Demo) -> str:
    blocks = [render(__package__, "instance_demo_task", instruction=demo["instruction"])]
    for k, ex in enumerate(demo["examples"], 1):
        if ex.get("input", "").strip():
            blocks.append(render(__package__, "instance_example_input_first", number=k, input=ex["input"],
                                 output=ex["output"]))
        else:
            blocks.append(render(__package__, "instance_example_no_input", number=k, output=ex["output"]))
    return "\n".join(blocks)


def _render_output_first(demo: Demo) -> str:
    blocks = [render(__package__, "instance_demo_task", instruction=demo["instruction"])]
    for ex in demo["examples"]:
        if ex.get("input", "").strip():
            blocks.append(render(__package__, "instance_example_output_first", label=ex["output"], input=ex["input"]))
        else:
            blocks.append(render(__package__, "instance_example_label_only", label=ex["output"]))
    return "\n".join(blocks)


def instance_prompt(instruction: str, is_classification: bool, demos: tuple[Demo, ...] | None = None) -> str:
    """The full prompt asking for instances of ``instruction`` (output-first if classification)."""
    demos = load_demos() if demos is None else demos
    style = "output_first" if is_classification else "input_first"
    block = _render_output_first if is_classification else _render_input_first
    shown = "\n\n".join(block(d) for d in demos if d["style"] == style)
    return render(__package__, f"instance_{style}", demos=shown, instruction=instruction.strip())


def instance_stop(is_classification: bool, max_instances: int = 5) -> tuple[str, ...]:
    """Stop before the next task, and (input-first) before one example too many."""
    return ("Task:",) if is_classification else (f"Example {max_instances + 1}", "Task:")


_EXAMPLE = re.compile(r"^\s*Example\s*\d+\s*[.:]?\s*$", re.M | re.I)
_OUTPUT = re.compile(r"^\s*Output\s*\d*\s*:", re.M | re.I)
_INPUT = re.compile(r"^\s*Input\s*\d*\s*:\s*", re.I)
_LABEL = re.compile(r"^\s*Class label\s*\d*\s*:", re.M | re.I)


def parse_instances(text: str, is_classification: bool) -> list[Instance]:
    """Instances from a model's answer to ``instance_prompt`` (unfiltered, in order)."""
    if is_classification:
        blocks = _LABEL.split(text)[1:]  # text before the first label is preamble
        out = []
        for b in blocks:
            label, _, rest = b.strip().partition("\n")
            out.append(Instance(_INPUT.sub("", rest.strip(), count=1).strip(), label.strip()))
        return out
    parts = _EXAMPLE.split(text)
    if len(parts) > 1 and not _OUTPUT.search(parts[0]):
        parts = parts[1:]  # a preamble before "Example 1"
    out = []
    for b in parts:
        if not b.strip():
            continue
        m = _OUTPUT.search(b)
        if m:
            inp, outp = b[: m.start()], b[m.end():]
        else:
            inp, outp = "", b
        out.append(Instance(_INPUT.sub("", inp.strip(), count=1).strip(), outp.strip()))
    return out


def instance_params(is_classification: bool, cfg: GenerateConfig) -> SamplingParams:
    return SamplingParams(temperature=cfg.instance_temperature, top_p=cfg.instance_top_p,
                          max_tokens=cfg.instance_max_tokens,
                          stop=instance_stop(is_classification, cfg.max_instances),
                          presence_penalty=cfg.instance_presence_penalty)


def instance_request(instruction: str, is_classification: bool, cfg: GenerateConfig) -> Request:
    return make_request(instance_prompt(instruction, is_classification), instance_params(is_classification, cfg), cfg)


def build_task(key: str, instruction: str, is_classification: bool, raw: list[Instance], max_instances: int
               ) -> tuple[TaskRecord, list[InstanceRejection]]:
    """The task after the step-4 filters (accepted, or rejected as a whole) and the instances
    the filters dropped."""
    kept, dropped, task_rej = filter_instances(raw, max_instances)
    task = TaskRecord(key, instruction, task_rej is None, kept, is_classification,
                      task_rej.reason if task_rej else None, task_rej.detail if task_rej else None)
    rejections = [InstanceRejection(f"{key}.{n}", key, i.input, i.output, r.reason, r.detail)
                  for n, (i, r) in enumerate(dropped)]
    return task, rejections


def task_from_answer(key: str, instruction: str, is_classification: bool, comp: Completion, max_instances: int
                     ) -> tuple[TaskRecord, list[InstanceRejection]]:
    """Parse and filter the instance writer's answer; a refused request rejects the task."""
    if not comp.ok:
        return TaskRecord(key, instruction, False, [], is_classification, "request_error",
                          (comp.error or "")[:300]), []
    return build_task(key, instruction, is_classification, parse_instances(comp.text, is_classification),
                      max_instances)
