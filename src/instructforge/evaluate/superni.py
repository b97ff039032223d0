"""SuperNI evaluation: zero-shot (or k-shot) prompting on Super-NaturalInstructions task files,
scored with ROUGE-L and exact match exactly as allenai/natural-instructions'
``eval/automatic/evaluation.py`` does.

Follows Self-Instruct (Wang et al. 2023) section 5.2 and REFINE-AF (Roy et al. 2025) section 4:
SuperNI English test tasks, prompt = task definition + instance input, greedy decoding,
ROUGE-L per task. The scoring parts (``normalize_answer``, ``exact_match``, ``rouge_l``,
``score_instance``) are plain functions so that RL rewards can reuse them.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import iter_jsonl
from ..core.prompts import render
from ..core.settings import option, validate
from ..models.types import Request, SamplingParams


@dataclass
class SuperNIConfig:
    """Every setting of ``instructforge evaluate superni`` (paper values as defaults;
    ``instructforge config show evaluate superni``)."""

    max_instances: int = option(
        100, "First N instances of each task (the official test split uses the first 100)", min=1, flag=True
    )
    num_pos_examples: int = option(
        0,
        "Positive examples shown before the input (0 = zero-shot, the setting of Self-Instruct and REFINE-AF)",
        min=0,
        flag=True,
    )
    max_tokens: int = option(
        64,
        "Max new tokens per answer. DEVIATION: neither paper gives one; Tk-Instruct decodes "
        "up to 128, but no shared reference is longer than 75 SmolLM2 tokens (p99 35), so 64 "
        "keeps all but one within reach at half the cost",
        min=1,
        flag=True,
    )
    temperature: float = option(0.0, "Sampling temperature (0: greedy, as in both papers)", min=0, max=2)
    prompt_format: str = option(
        "chat",
        "chat: the prompt is one user message (the backend applies the chat "
        "template); raw: a plain completion prompt (base models)",
        choices=("chat", "raw"),
        flag=True,
    )
    stop: list[str] = option(
        default_factory=list,
        flag=True,
        help="Stop strings; \\n and \\t are read as newline and tab (default: none, as the official setting)",
    )
    only: list[str] = option(
        default_factory=list,
        flag=True,
        help="Task names to evaluate; an item may hold several, comma-separated (default: every task*.json)",
    )

    def __post_init__(self) -> None:
        validate(self)
        self.stop = [s.replace("\\n", "\n").replace("\\t", "\t") for s in self.stop]
        self.only = [n.strip() for item in self.only for n in item.split(",") if n.strip()]


@dataclass(slots=True)
class SuperNIInstance:
    id: str
    input: str
    references: list[str]


@dataclass(slots=True)
class SuperNITask:
    name: str
    path: Path
    definition: str
    category: str
    positive_examples: list[dict[str, str]]
    instances: list[SuperNIInstance]


# ---------------------------------------------------------------- loading


def _bad(path: Path, reason: str) -> InputError:
    return InputError.at(path, None, reason)


def load_task(path: Path, max_instances: int | None = None) -> SuperNITask:
    """Read one task file in the official format; bad input is an InputError naming the file."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _bad(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text") from None
    if not isinstance(d, dict):
        raise _bad(path, "a task file must be a JSON object")
    for key in ("Definition", "Instances"):
        if key not in d:
            raise _bad(path, f'missing "{key}"')
    definition = d["Definition"]
    # Tk-Instruct (the reference encoder for SuperNI) uses the first definition when several
    # phrasings are given; so do we.
    if isinstance(definition, list):
        definition = definition[0] if definition else ""
    if not isinstance(definition, str) or not definition.strip():
        raise _bad(path, '"Definition" must be a non-empty string or list of strings')
    raw = d["Instances"]
    if not isinstance(raw, list) or not raw:
        raise _bad(path, '"Instances" must be a non-empty list')
    instances = []
    for n, inst in enumerate(raw[:max_instances] if max_instances else raw):
        if not isinstance(inst, dict) or not all(k in inst for k in ("id", "input", "output")):
            raise _bad(path, f"instance {n}: needs id, input and output")
        out = inst["output"]
        if isinstance(out, str):
            out = [out]
        if not isinstance(out, list) or not out or not all(isinstance(o, str) for o in out):
            raise _bad(path, f"instance {n} ({inst['id']}): output must be a non-empty list of strings")
        instances.append(SuperNIInstance(str(inst["id"]), str(inst["input"]), list(out)))
    cats = d.get("Categories") or ["Uncategorized"]
    pos = [e for e in d.get("Positive Examples") or [] if isinstance(e, dict) and "input" in e and "output" in e]
    return SuperNITask(path.stem, path, definition.strip(), str(cats[0]), pos, instances)


def load_tasks(tasks_dir: Path, max_instances: int | None = 100, only: Sequence[str] = ()) -> list[SuperNITask]:
    """Every ``task*.json`` in a directory (other files such as test_tasks.txt are ignored)."""
    tasks_dir = Path(tasks_dir)
    files = sorted(tasks_dir.glob("task*.json"))
    if only:
        names = {f.stem for f in files}
        missing = [t for t in only if t not in names]
        if missing:
            raise _bad(tasks_dir, f"no task file for {', '.join(missing)}")
        files = [f for f in files if f.stem in set(only)]
    if not files:
        raise _bad(tasks_dir, "no task*.json files")
    tasks = [load_task(f, max_instances) for f in files]
    seen: dict[str, str] = {}
    for t in tasks:
        for inst in t.instances:
            if inst.id in seen:
                raise _bad(t.path, f"instance id {inst.id} also appears in {seen[inst.id]}")
            seen[inst.id] = t.name
    return tasks


def load_predictions(path: Path, tasks: Sequence[SuperNITask]) -> dict[str, str]:
    """JSONL ``{id, prediction}``; every id must be an instance of the evaluated tasks."""
    known = {i.id: t.name for t in tasks for i in t.instances}
    preds: dict[str, str] = {}
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or "id" not in row or "prediction" not in row:
            raise InputError.at(path, n, 'needs "id" and "prediction"')
        pid, pred = str(row["id"]), row["prediction"]
        if not isinstance(pred, str):
            raise InputError.at(path, n, f"prediction for {pid} must be a string")
        if pid not in known:
            raise InputError.at(
                path,
                n,
                f"id {pid} is not an instance of the evaluated tasks (check --tasks, --only and --max-instances)",
            )
        if pid in preds:
            raise InputError.at(path, n, f"duplicate id {pid}")
        preds[pid] = pred
    if not preds:
        raise InputError.at(path, None, "no predictions")
    return preds


# ---------------------------------------------------------------- prompting


def _period(text: str) -> str:
    """Tk-Instruct's encoding (ni_collator.py) ends a definition, an input or an example's output
    with a period when it has no final punctuation."""
    return text if text[-1:] in _PUNCT else text + "."


def render_prompt(task: SuperNITask, inst: SuperNIInstance, num_pos_examples: int = 0) -> str:
    examples = "".join(
        render(
            __package__,
            "superni_example",
            number=k + 1,
            input=_period(e["input"].strip()),
            output=_period(e["output"].strip()),
        )
        for k, e in enumerate(task.positive_examples[:num_pos_examples])
    )
    return render(
        __package__,
        "superni_prompt",
        definition=_period(task.definition.strip()),
        examples=examples,
        input=_period(inst.input.strip()),
    )


def build_requests(tasks: Sequence[SuperNITask], cfg: SuperNIConfig) -> tuple[list[str], list[Request]]:
    params = SamplingParams(temperature=cfg.temperature, top_p=1.0, max_tokens=cfg.max_tokens, stop=tuple(cfg.stop))
    ids, reqs = [], []
    for t in tasks:
        for inst in t.instances:
            text = render_prompt(t, inst, cfg.num_pos_examples)
            req = (
                Request.raw(text, params=params, seed=0)
                if cfg.prompt_format == "raw"
                else Request.chat(text, params=params, seed=0)
            )
            ids.append(inst.id)
            reqs.append(req)
    return ids, reqs


def predict(llm: Any, tasks: Sequence[SuperNITask], cfg: SuperNIConfig) -> dict[str, str]:
    """Generate a prediction for every instance through ``llm.generate``.

    Requests are sorted by prompt length before batching (the executor batches in order), so a
    batch holds prompts of similar length and little padding; answers go back to their ids.
    The sort is by task first (tasks ordered by their mean prompt length), then by length within
    the task: a batch then also shares one task's answer length, so it does not keep decoding
    for one long-winded answer to another task while its short answers are long finished.
    """
    ids, reqs = build_requests(tasks, cfg)
    length = [r.prompt_chars() for r in reqs]
    task_of = [t.name for t in tasks for _ in t.instances]
    task_len: dict[str, list[int]] = {}
    for name, n in zip(task_of, length, strict=True):
        task_len.setdefault(name, []).append(n)
    mean = {name: sum(v) / len(v) for name, v in task_len.items()}
    order = sorted(range(len(reqs)), key=lambda i: (-mean[task_of[i]], task_of[i], -length[i]))
    comps = llm.generate([reqs[i] for i in order], desc="superni", by_length=False)
    out: dict[str, str] = {}
    for i, c in zip(order, comps, strict=True):
        out[ids[i]] = c.text.strip()
    return out


# ---------------------------------------------------------------- scoring (official)


def normalize_answer(s: str) -> str:
    """SQuAD-style normalisation as in the official script (articles are kept):
    lowercase, drop ``string.punctuation``, collapse whitespace.

    >>> normalize_answer("  The  Cat, sat! ")
    'the cat sat'
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    return " ".join(s.split())


_PUNCT = set(string.punctuation)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure, rouge_score default tokenizer with the Porter stemmer (official)."""
    return _scorer().score(reference, prediction)["rougeL"].fmeasure


def score_instance(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """(ROUGE-L, EM) of one prediction, max over references, on the 0-100 scale."""
    r = max(rouge_l(prediction, ref) for ref in references)
    e = max(exact_match(prediction, ref) for ref in references)
    return 100.0 * r, 100.0 * e


def _mean(xs: Sequence[float]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0


def score(
    tasks: Sequence[SuperNITask], predictions: Mapping[str, str], model: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score predictions; returns (results.json dict, predictions.jsonl rows).

    Overall and per-category numbers are micro averages over instances, as in the official
    script (with 100 instances per task they equal the macro average over tasks). An instance
    without a prediction is scored as the empty string, also as the official script does.
    """
    rows: list[dict[str, Any]] = []
    per_task: dict[str, dict[str, Any]] = {}
    by_cat: dict[str, list[dict[str, Any]]] = {}
    missing = 0
    for t in tasks:
        t_rows: list[dict[str, Any]] = []
        for inst in t.instances:
            if inst.id not in predictions:
                missing += 1
            pred = predictions.get(inst.id, "")
            r, e = score_instance(pred, inst.references)
            t_rows.append(
                {
                    "id": inst.id,
                    "task": t.name,
                    "prediction": pred,
                    "references": inst.references,
                    "rougeL": r,
                    "exact_match": e,
                }
            )
        per_task[t.name] = {
            "rougeL": _mean([x["rougeL"] for x in t_rows]),
            "exact_match": _mean([x["exact_match"] for x in t_rows]),
            "n": len(t_rows),
            "category": t.category,
        }
        by_cat.setdefault(t.category, []).extend(t_rows)
        rows.extend(t_rows)
    cats = {
        c: {
            "rougeL": _mean([x["rougeL"] for x in rs]),
            "exact_match": _mean([x["exact_match"] for x in rs]),
            "n_tasks": sum(1 for t in tasks if t.category == c),
        }
        for c, rs in sorted(by_cat.items())
    }
    results = {
        "kind": "superni",
        "model": model,
        "overall": {
            "rougeL": _mean([x["rougeL"] for x in rows]),
            "exact_match": _mean([x["exact_match"] for x in rows]),
        },
        "categories": cats,
        "tasks": per_task,
        "n_instances": len(rows),
        "n_tasks": len(tasks),
        "missing_predictions": missing,
        "averaging": "micro over instances (official script)",
    }
    return results, rows
