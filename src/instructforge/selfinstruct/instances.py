"""Steps 3-4 of Self-Instruct (paper section 2.2, "Instance Generation" and "Filtering").

Input-first for ordinary tasks (the model writes an input, then its output), output-first for
classification tasks (a class label first, then an input for it), so that labels are not
skewed towards whatever input the model thinks of first. Temperature 0, presence penalty 1.5,
up to 5 instances per task.

``InstanceTask`` is the one object for "write instances of this instruction" (nanochat's Task
pattern): its prompt and stop strings, its parser and the step-4 filters, the task record an
answer makes, and the reward of an answer. The instance stage (pipeline.py) asks with it and
records its answers; REFINE-AF's RL stage (train/refine.py) prompts the policy with it and rewards
what the policy writes with it, so both see exactly the same task.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import json_lines, read_text
from ..core.prompts import render
from ..data.checks import RecordChecker
from ..data.records import Instance, Rejection
from ..data.runrecords import InstanceRejection, TaskRecord
from ..models.backends.decoding import find_stop
from ..models.types import Completion, Request, SamplingParams
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
    for n, d, err in json_lines(read_text(path)):
        try:
            if err is not None:
                raise err
            assert d["style"] in ("input_first", "output_first") and d["examples"]
            out.append(d)
        except (json.JSONDecodeError, KeyError, TypeError, AssertionError) as e:
            raise InputError.at(path, n, f"bad instance demonstration ({e!r})") from None
    return tuple(out)


_FIELD = re.compile(r"^[A-Za-z][A-Za-z' ]{0,40}:")


def _field(text: str) -> str:
    """A demonstration input with its task-specific field name ("Paragraph: ...", "List: ...",
    as the paper's demonstrations show them); a demonstration written without one gets "Input:"."""
    return text if _FIELD.match(text) else f"Input: {text}"


def _render_input_first(demo: Demo) -> str:
    blocks = [render(__package__, "instance_demo_task", instruction=demo["instruction"])]
    for k, ex in enumerate(demo["examples"], 1):
        if ex.get("input", "").strip():
            blocks.append(
                render(
                    __package__,
                    "instance_example_input_first",
                    number=k,
                    input=_field(ex["input"]),
                    output=ex["output"],
                )
            )
        else:
            blocks.append(render(__package__, "instance_example_no_input", number=k, output=ex["output"]))
    return "\n".join(blocks)


def _render_output_first(demo: Demo) -> str:
    blocks = [render(__package__, "instance_demo_task", instruction=demo["instruction"])]
    for ex in demo["examples"]:
        if ex.get("input", "").strip():
            blocks.append(
                render(__package__, "instance_example_output_first", label=ex["output"], input=_field(ex["input"]))
            )
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
            inp, outp = b[: m.start()], b[m.end() :]
        else:
            inp, outp = "", b
        out.append(Instance(_INPUT.sub("", inp.strip(), count=1).strip(), outp.strip()))
    return out


@dataclass(frozen=True)
class InstanceTask:
    """Write up to ``max_instances`` instances of ``instruction`` (output-first when it is a
    classification task). ``demos``: demonstrations per style in the prompt (None: all).
    ``seed``: with the instruction, the seed of the cap's random sample (GenerateConfig.seed).
    ``checker``: the validity checks its instances must also pass (None: the paper's filters
    only; pipeline.py passes the run's, data/checks.py)."""

    instruction: str
    is_classification: bool
    max_instances: int = 5
    demos: int | None = None
    seed: int = 0
    checker: RecordChecker | None = field(default=None, compare=False)

    def shown_demos(self) -> tuple[Demo, ...]:
        style = "output_first" if self.is_classification else "input_first"
        shown = tuple(d for d in load_demos() if d["style"] == style)
        return shown if self.demos is None else shown[: self.demos]

    def prompt_texts(self) -> list[str]:
        """Every demonstration input and output the prompt shows (what an output must not copy)."""
        return [t for d in self.shown_demos() for ex in d["examples"] for t in (ex.get("input", ""), ex["output"]) if t]

    def prompt(self) -> str:
        return instance_prompt(self.instruction, self.is_classification, self.shown_demos())

    def stop(self) -> tuple[str, ...]:
        return instance_stop(self.is_classification, self.max_instances)

    def request(self, cfg: GenerateConfig) -> Request:
        params = SamplingParams(
            temperature=cfg.instance_temperature,
            top_p=cfg.instance_top_p,
            max_tokens=cfg.instance_max_tokens,
            stop=self.stop(),
            presence_penalty=cfg.instance_presence_penalty,
        )
        return make_request(self.prompt(), params, cfg)

    def cut(self, text: str) -> str:
        """The answer up to its first stop string, as a server that was given them returns it."""
        i = find_stop(text, self.stop())
        return text if i < 0 else text[:i]

    def parse(self, text: str) -> list[Instance]:
        return parse_instances(text, self.is_classification)

    def filter(
        self, raw: list[Instance], cut: bool = False
    ) -> tuple[list[Instance], list[tuple[Instance, Rejection]], Rejection | None]:
        """The step-4 filters: (kept, dropped with their reasons, a rejection of the whole task).
        ``cut``: the answer stopped at the length limit, so its last instance is dropped."""
        # Seeded by the instruction too, so every task draws its own sample, the same on resume.
        return filter_instances(
            raw,
            self.max_instances,
            f"{self.seed}\x00{self.instruction}",
            cut,
            self.checker,
            self.instruction,
            self.prompt_texts() if self.checker is not None else (),
        )

    def instances(self, text: str) -> list[Instance]:
        """What the instance stage would keep of this answer."""
        kept, _, task_rejection = self.filter(self.parse(self.cut(text)))
        return [] if task_rejection is not None else kept

    def record(self, key: str, raw: list[Instance], cut: bool = False) -> tuple[TaskRecord, list[InstanceRejection]]:
        """The task record after the step-4 filters (accepted, or rejected as a whole) and the
        instances the filters dropped (``cut``: the answer hit the length limit)."""
        kept, dropped, task_rej = self.filter(raw, cut)
        task = TaskRecord(
            key,
            self.instruction,
            task_rej is None,
            kept,
            self.is_classification,
            task_rej.reason if task_rej else None,
            task_rej.detail if task_rej else None,
        )
        rejections = [
            InstanceRejection(f"{key}.{n}", key, i.input, i.output, r.reason, r.detail)
            for n, (i, r) in enumerate(dropped)
        ]
        return task, rejections

    def answer_record(self, key: str, comp: Completion) -> tuple[TaskRecord, list[InstanceRejection]]:
        """``record`` of a model's answer; a request the server refused rejects the task. An
        answer that stopped at the length limit loses its last, likely incomplete, instance."""
        if not comp.ok:
            return TaskRecord(
                key, self.instruction, False, [], self.is_classification, "request_error", (comp.error or "")[:300]
            ), []
        return self.record(key, self.parse(comp.text), cut=comp.finish_reason == "length")

    @staticmethod
    def reward(feedback: Sequence[Mapping[str, float]], unparseable: float) -> tuple[float, dict[str, float]]:
        """The REFINE-AF reward of one answer from the automated feedback of each instance it
        wrote (feedback/reward.py ``feedback_components``): their mean; ``unparseable`` when it
        wrote none. Also every component's mean, for the logs.

        >>> InstanceTask.reward([{"total": 0.2, "naturalness": 0.9}, {"total": 0.4, "naturalness": 0.7}], -1.0)
        (0.30000000000000004, {'total': 0.30000000000000004, 'naturalness': 0.8, 'parsed': 1.0, 'instances': 2.0})
        >>> InstanceTask.reward([], -1.0)
        (-1.0, {'parsed': 0.0, 'total': -1.0})
        """
        if not feedback:
            return unparseable, {"parsed": 0.0, "total": unparseable}
        row = {k: sum(f[k] for f in feedback) / len(feedback) for k in feedback[0]}
        row["parsed"], row["instances"] = 1.0, float(len(feedback))
        return row["total"], row
