"""Steps 3-4 of Self-Instruct (paper section 2.2, "Instance Generation" and "Filtering").

Input-first for ordinary tasks (the model writes an input, then its output), output-first for
classification tasks (a class label first, then an input for it), so that labels are not
skewed towards whatever input the model thinks of first. Temperature 0, presence penalty 1.5,
up to 5 instances per task. ``instance_prompt`` and ``parse_instances`` are public: REFINE-AF
reuses them with its refined model.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from .. import ui
from ..errors import InputError
from ..records import Instance, SamplingParams, Task
from .common import StageContext, make_request, template
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
    lines = [f"Task: {demo['instruction']}"]
    for k, ex in enumerate(demo["examples"], 1):
        lines.append(f"Example {k}")
        if ex.get("input", "").strip():
            lines.append(f"Input: {ex['input']}")
        lines.append(f"Output: {ex['output']}")
    return "\n".join(lines)


def _render_output_first(demo: Demo) -> str:
    lines = [f"Task: {demo['instruction']}"]
    for ex in demo["examples"]:
        lines.append(f"Class label: {ex['output']}")
        if ex.get("input", "").strip():
            lines.append(f"Input: {ex['input']}")
    return "\n".join(lines)


def instance_prompt(instruction: str, is_classification: bool, demos: tuple[Demo, ...] | None = None) -> str:
    """The full prompt asking for instances of ``instruction`` (output-first if classification)."""
    demos = load_demos() if demos is None else demos
    style = "output_first" if is_classification else "input_first"
    render = _render_output_first if is_classification else _render_input_first
    shown = "\n\n".join(render(d) for d in demos if d["style"] == style)
    return template(f"instance_{style}.txt").substitute(demos=shown, instruction=instruction.strip())


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


def build_task(key: str, payload: dict[str, Any], raw: list[Instance], max_instances: int
               ) -> tuple[dict[str, Any], str, list[tuple[str, dict[str, Any]]]]:
    """(task payload, status, instance rejections) after the step-4 filters."""
    kept, dropped, task_rej = filter_instances(raw, max_instances)
    task = Task(instruction=payload["instruction"], instances=kept,
                is_classification=bool(payload.get("is_classification")), id=key).to_dict()
    if task_rej is not None:
        task.update(reason=task_rej.reason, detail=task_rej.detail)
    rejections = [(f"{key}.{n}", {"task_key": key, "input": i.input, "output": i.output,
                                  "reason": r.reason, "detail": r.detail})
                  for n, (i, r) in enumerate(dropped)]
    return task, ("rejected" if task_rej else "accepted"), rejections


def run_instances(ctx: StageContext) -> None:
    store, cfg = ctx.store, ctx.cfg
    todo = [(k, p) for k, _, p in store.iter("candidate", "accepted") if not store.has("task", k)]
    if not todo:
        return
    with ui.progress("instances", len(todo)) as bar:
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start : start + cfg.batch_size]
            reqs = []
            for _, p in batch:
                clf = bool(p.get("is_classification"))
                params = SamplingParams(temperature=cfg.instance_temperature, top_p=cfg.instance_top_p,
                                        max_tokens=cfg.instance_max_tokens,
                                        stop=instance_stop(clf, cfg.max_instances),
                                        presence_penalty=cfg.instance_presence_penalty)
                reqs.append(make_request(instance_prompt(p["instruction"], clf), params, cfg))
            comps = ctx.llm.generate(reqs, desc="instances")
            with store.transaction():
                for (key, p), comp in zip(batch, comps, strict=True):
                    raw = parse_instances(comp.text, bool(p.get("is_classification")))
                    task, status, rejections = build_task(key, p, raw, cfg.max_instances)
                    store.add("task", key, task, status)
                    for rkey, rp in rejections:
                        store.add("instance_rejection", rkey, rp, "rejected")
                ctx.commit_stats()
            bar.advance(len(batch))
