"""The Python API of Instruction Induction (Honovich et al. 2023) and the ROUGE-L novelty filter
(Self-Instruct, Wang et al. 2023, section 2.2).

``instructforge induce``, ``induction evaluate``, ``induction score`` and ``dedup`` are thin
shells over these functions. Settings are the config dataclasses (``InduceConfig``,
``SearchConfig``, ``EvalConfig``, ``DedupConfig``); the model is a spec or a ``ModelConfig``
plus its fields as keyword arguments. Every input is checked before anything is written, and
every output directory gets the resolved ``config.yaml`` (command sections, so it can be given
back to ``--config``).

>>> # from instructforge.api.induction import induce
>>> # induce([("cat", "CAT"), ("dog", "DOG"), ...], model="openai:llama", base_url="http://...").instruction
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..core import ui
from ..core.errors import InputError
from ..core.io import atomic_write, write_json
from ..core.settings import as_dict
from ..data.records import Task
from ..induction import benchmark as bm
from ..induction.evaluate import EvalConfig
from ..induction.induce import InduceConfig
from ..induction.search import SearchConfig
from ..models.client import Stats
from ..models.modelconfig import ModelConfig
from ..selfinstruct.novelty import DedupConfig
from .run import model_config

Demos = str | Path | Sequence[tuple[str, str]]


@dataclasses.dataclass
class Induction:
    """What ``induce`` found: the instruction and, when the search ran, its held-out accuracy,
    how many held-out demonstrations that is on, and every candidate (``search.py`` table)."""

    instruction: str
    accuracy: float | None = None
    n_eval: int | None = None
    candidates: list[dict[str, Any]] | None = None
    note: str | None = None  # why a search that was asked for did not run
    stats: Stats | None = dataclasses.field(default=None, repr=False)  # the model calls it made

    def as_dict(self) -> dict[str, Any]:
        """``instructforge induce --json``: ``{instruction}``, plus accuracy, n_eval and
        candidates after a search."""
        if self.candidates is None:
            return {"instruction": self.instruction}
        return {
            "instruction": self.instruction,
            "accuracy": self.accuracy,
            "n_eval": self.n_eval,
            "candidates": self.candidates,
        }


def config_yaml(command: str, settings: dict[str, Any]) -> str:
    """The resolved settings of ``command`` as a config file in command sections."""
    data: dict[str, Any] = settings
    for part in reversed(command.split()):
        data = {part: data}
    head = f"# instructforge {command}: the resolved settings (reuse with --config this file)\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _out_dir(out: str | Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    return out


def _check_demos(demos: Demos, k: int) -> list[tuple[str, str]]:
    from ..induction.induce import check_enough, read_demos

    if isinstance(demos, str | Path):
        pairs = read_demos(Path(demos))
        check_enough(Path(demos), pairs, k)
        return pairs
    pairs = []
    for n, d in enumerate(demos):
        if not (isinstance(d, tuple | list) and len(d) == 2 and all(isinstance(x, str) for x in d)):
            raise InputError(f"demos[{n}]: expected an (input, output) pair of strings, got {d!r}")
        pairs.append((d[0], d[1]))
    if len(pairs) < k:
        raise InputError(f"demos: {len(pairs)} demonstrations, fewer than k={k}")
    return pairs


def induce(
    demos: Demos,
    *,
    model: str | ModelConfig | None = "embedded",
    config: InduceConfig | None = None,
    search: SearchConfig | None = None,
    **model_options: Any,
) -> Induction:
    """The instruction behind ``demos`` (a JSONL file of ``{input, output}``, a benchmark task
    file, or ``(input, output)`` pairs), induced greedily from the first k. With
    ``search.num_candidates > 1`` and at least k + ``search.min_eval`` demonstrations, the
    APE-style search picks it instead (held-out execution accuracy).

    >>> # induce("demos.jsonl", model="scripted:rules.jsonl", search=SearchConfig(num_candidates=8))
    """
    from ..induction.induce import induce as induce_greedy
    from ..induction.search import can_search
    from ..induction.search import search as run_search

    cfg = config or InduceConfig()
    mcfg = model_config(model, model_options)
    pairs = _check_demos(demos, cfg.k)
    searching, note = False, None
    if search is not None and search.num_candidates > 1:
        searching = can_search(len(pairs), search, cfg)
        if not searching:
            note = (
                f"search needs at least k+{search.min_eval} = {cfg.k + search.min_eval} demonstrations; "
                f"{len(pairs)} given: inducing greedily from the first {cfg.k}"
            )
    llm = mcfg.open()
    try:
        if searching:
            res = run_search(llm, pairs, search, cfg)
            result = Induction(res.best.text, res.best.accuracy, len(res.best.scores), res.table())
        else:
            result = Induction(induce_greedy(llm, [pairs[: cfg.k]], cfg)[0], note=note)
    finally:
        llm.close()
    result.stats = llm.stats
    return result


def write_seed_tasks(
    examples_dir: str | Path,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: InduceConfig | None = None,
    **model_options: Any,
) -> tuple[list[Task], Stats]:
    """``induce_as_seeds``, returning the seed tasks written and the model calls it made."""
    from ..induction.seeds import read_demo_dir, seeds_from_sets

    cfg = config or InduceConfig()
    mcfg = model_config(model, model_options)
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a directory (--out is the seed file to write)")
    sets = read_demo_dir(Path(examples_dir), cfg.k)  # every file checked before the model loads
    llm = mcfg.open()
    try:
        tasks = seeds_from_sets(llm, sets, cfg)
    finally:
        llm.close()
    atomic_write(out, "".join(json.dumps(t.to_dict(), ensure_ascii=False) + "\n" for t in tasks))
    atomic_write(seeds_config_path(out), config_yaml("induce", {**as_dict(cfg), **mcfg.public()}))
    return tasks, llm.stats


def seeds_config_path(out: Path) -> Path:
    """The resolved settings of an ``--as-seeds`` file go next to it: seeds.jsonl -> seeds.config.yaml."""
    return Path(out).with_suffix(".config.yaml")


def induce_as_seeds(
    examples_dir: str | Path,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: InduceConfig | None = None,
    **model_options: Any,
) -> Path:
    """One Self-Instruct seed task per ``examples_dir/*.jsonl`` (lines of ``{input, output}``),
    its instruction induced from the first k; written to ``out`` (JSONL), the settings to
    ``seeds_config_path(out)``. Returns ``out``."""
    write_seed_tasks(examples_dir, out=out, model=model, config=config, **model_options)
    return Path(out)


def _task_names(tasks: Sequence[str] | str | None) -> list[str] | None:
    if tasks is None:
        return None
    if isinstance(tasks, str):
        tasks = tasks.split(",")
    names = [t.strip() for t in tasks if isinstance(t, str) and t.strip()]
    if len(names) != len(list(tasks)):
        raise InputError(f"tasks: expected task names, got {list(tasks)!r}")
    return names or None


def evaluate_induction(
    data_dir: str | Path,
    *,
    out: str | Path,
    tasks: Sequence[str] | None = None,
    model: str | ModelConfig | None = "embedded",
    config: EvalConfig | None = None,
    **model_options: Any,
) -> dict[str, Any]:
    """The Instruction Induction benchmark on ``data_dir`` (raw/, annotations/,
    induction_input/; or the dataset name ``instruction-induction``) for ``tasks`` (default: all). Writes ``out/results.json``, ``table.md``,
    ``config.yaml`` (and ``predictions.jsonl`` with ``config.save_predictions``); returns the
    results.json content.

    >>> # evaluate_induction("data/ii", out="eval/ii", tasks=["sum"], config=EvalConfig(num_prompts=5))
    """
    from ..data.datasets import resolve
    from ..induction.evaluate import evaluate_benchmark, markdown_table, plan_benchmark

    cfg = config or EvalConfig()
    mcfg = model_config(model, model_options)
    data = resolve(data_dir)  # the dataset name instruction-induction is fetched here
    out = _out_dir(out)
    plan = plan_benchmark(data, cfg, _task_names(tasks))  # every file read and checked first
    llm = mcfg.open()
    try:
        results = evaluate_benchmark(llm, data, cfg, plan=plan)
    finally:
        llm.close()
    preds = results.pop("_predictions", None)
    results["config"]["model_options"] = mcfg.public()
    write_json(out / "results.json", results)
    atomic_write(out / "table.md", markdown_table(results))
    if preds is not None:
        atomic_write(out / "predictions.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds))
    atomic_write(out / "config.yaml", config_yaml("induction evaluate", {**as_dict(cfg), **mcfg.public()}))
    return results


def score_induction(
    data_dir: str | Path,
    *,
    task: str,
    predictions: str | Path | Mapping[str, str],
    task_table: str | Path | None = None,
) -> dict[str, Any]:
    """Execution accuracy of given ``predictions`` (a JSONL file of ``{id, prediction}`` or a
    mapping id -> prediction; ids are raw/execute example keys) with ``task``'s metric; no model.
    Returns ``{task, metric, n, correct, accuracy, missing}``."""
    from ..data.datasets import resolve
    from ..induction.metrics import mean, score

    data = resolve(data_dir)
    bm.check_tasks(data, [task])
    spec = bm.task_spec(task, bm.load_table(Path(task_table) if task_table else None))
    items = {it.id: it for it in bm.test_items(data, task, spec)}
    if isinstance(predictions, str | Path):
        preds = bm.read_predictions(Path(predictions), set(items))
    else:
        preds = {str(k): v for k, v in predictions.items()}
        unknown = sorted(set(preds) - set(items))
        if unknown:
            raise InputError(f"predictions: unknown id {unknown[0]!r} (ids are raw/execute example keys)")
        if not preds or not all(isinstance(v, str) for v in preds.values()):
            raise InputError("predictions: expected a non-empty mapping of id -> prediction string")
    scores = [score(p, items[i].answers, spec.metric) for i, p in preds.items()]
    return {
        "task": task,
        "metric": spec.metric,
        "n": len(scores),
        "correct": sum(scores),
        "accuracy": mean(scores),
        "missing": len(items) - len(preds),
    }


def _dedup_line(rec: dict[str, Any], score: float, most_similar: str | None) -> str:
    out = dict(rec)
    out["max_rouge_l"] = score
    out["most_similar"] = most_similar
    return json.dumps(out, ensure_ascii=False) + "\n"


def dedup(input_path: str | Path, *, out: str | Path, config: DedupConfig | None = None) -> dict[str, Any]:
    """The ROUGE-L novelty filter over a JSONL file, greedily in file order: a record is kept iff
    its max ROUGE-L F with the records kept before it is <= ``config.threshold``. Writes
    ``out/kept.jsonl`` and ``out/rejected.jsonl`` (each record plus ``max_rouge_l`` and
    ``most_similar``), ``summary.json`` and ``config.yaml``; returns the summary (counts)."""
    import os

    from ..selfinstruct.novelty import NoveltyIndex, read_records

    cfg = config or DedupConfig()
    from ..data.datasets import resolve

    input_path, out = resolve(input_path), _out_dir(out)
    records, _ = read_records(input_path, cfg.field, strict=True)  # InputError before any write
    index = NoveltyIndex(threshold=cfg.threshold, use_stemmer=cfg.stemmer)
    kept_lines: list[str] = []
    rejected_lines: list[str] = []
    t0 = time.perf_counter()
    with ui.progress("dedup", len(records)) as bar:
        for _, rec in records:
            kept, score, idx = index.check_and_add(rec[cfg.field])
            # null when no kept record shares a token with it (score 0), including none kept yet
            similar = None if idx is None or score == 0.0 else index.texts[idx]
            (kept_lines if kept else rejected_lines).append(_dedup_line(rec, score, similar))
            bar.advance()
    summary = {
        "input": str(input_path),
        "field": cfg.field,
        "threshold": cfg.threshold,
        "stemmer": cfg.stemmer,
        "records": len(records),
        "kept": len(kept_lines),
        "rejected": len(rejected_lines),
        "seconds": round(time.perf_counter() - t0, 3),
        "pairs_compared": index.pairs_seen,
        "pairs_scored_exactly": index.exact_scored,
        "cpu_count": os.cpu_count(),
    }
    atomic_write(out / "kept.jsonl", "".join(kept_lines))
    atomic_write(out / "rejected.jsonl", "".join(rejected_lines))
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out / "config.yaml", config_yaml("dedup", as_dict(cfg)))
    return summary
