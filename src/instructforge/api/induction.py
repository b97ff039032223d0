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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import atomic_write, write_json, write_jsonl
from ..core.settings import as_dict, option
from ..data import outdir
from ..data.formats import write_tasks
from ..data.outdir import RESULTS as RESULTS  # re-exported for cli/
from ..data.outdir import write_config
from ..data.records import Task
from ..induction.evaluate import EvalConfig
from ..induction.evaluate import table_rows as table_rows  # re-exported for cli/
from ..induction.induce import Demos, InduceConfig, check_demos
from ..induction.induce import Induction as Induction  # the result of induce (a public type)
from ..induction.induce import read_candidates as read_candidates
from ..induction.search import SearchConfig
from ..models.client import Stats
from ..models.modelconfig import ModelConfig
from ..models.usage import FileSink
from ..selfinstruct.novelty import DedupConfig
from .run import model_config
from .usage import file_sink, track


@dataclasses.dataclass
class InduceSearchConfig(SearchConfig):
    """SearchConfig with the ``induce`` command's default: no search unless asked for."""

    num_candidates: int = option(
        1,
        "> 1: APE-style search over this many sampled proposals, scored on held-out "
        "demonstrations; 1: greedy induction",
        min=1,
        max=1000,
        flag="--num-candidates",
    )


@dataclasses.dataclass
class InduceCommandConfig(InduceConfig):
    """Settings of ``instructforge induce``: the induction at the top level, the search under
    ``search.`` (config.py cannot change a nested default, hence the subclass above)."""

    search: InduceSearchConfig = option(default_factory=InduceSearchConfig, help="The search")

    def split(self) -> tuple[InduceConfig, SearchConfig]:
        base = {f.name: getattr(self, f.name) for f in dataclasses.fields(InduceConfig)}
        return InduceConfig(**base), self.search


def _out_dir(out: str | Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    return out


def induce(
    demos: Demos,
    *,
    model: str | ModelConfig | None = "embedded",
    config: InduceConfig | None = None,
    search: SearchConfig | None = None,
    candidates: str | Path | Sequence[str] | None = None,
    **model_options: Any,
) -> Induction:
    """The instruction behind ``demos`` (a JSONL file of ``{input, output}``, a benchmark task
    file, or ``(input, output)`` pairs), induced greedily from the first k. With
    ``search.num_candidates > 1`` and at least k + ``search.min_eval`` demonstrations, the
    APE-style search picks it instead (``search.score``: held-out execution accuracy or
    likelihood; ``search.method``: halving or ucb). ``candidates`` (instructions, or a file of
    one a line): score those on the demonstrations instead of proposing (APE's evaluate-only use).

    >>> # induce("demos.jsonl", model="scripted:rules.jsonl", search=SearchConfig(num_candidates=8))
    """
    from ..induction.induce import induce as induce_greedy
    from ..induction.search import can_search
    from ..induction.search import search as run_search

    cfg = config or InduceConfig()
    mcfg = model_config(model, model_options)
    given: list[str] | None = None
    if candidates is not None:
        given = read_candidates(candidates) if isinstance(candidates, str | Path) else [str(c) for c in candidates]
        if not any(g.strip() for g in given):
            raise InputError("candidates: no instructions given")
        pairs = check_demos(demos, 1)
        llm = mcfg.open()
        try:
            res = run_search(llm, pairs, search or SearchConfig(), cfg, given=given)
        finally:
            llm.close()
        return Induction(
            res.best.text,
            res.best.score,
            res.best.evaluated,
            res.table(),
            None,
            llm.stats,
            res.calls,
            res.score_kind,
            res.method,
        )
    pairs = check_demos(demos, cfg.k)
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
            assert search is not None
            res = run_search(llm, pairs, search, cfg)
            result = Induction(
                res.best.text,
                res.best.score,
                res.best.evaluated,
                res.table(),
                calls=res.calls,
                score_kind=res.score_kind,
                method=res.method,
            )
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
        track("induce", FileSink(Path(out).with_suffix(outdir.SEEDS_USAGE_SUFFIX)), llm)
        tasks = seeds_from_sets(llm, sets, cfg)
    finally:
        llm.close()
    write_tasks(out, tasks)
    write_config(seeds_config_path(out), {**as_dict(cfg), **mcfg.public()}, "induce")
    return tasks, llm.stats


def seeds_config_path(out: Path) -> Path:
    """The resolved settings of an ``--as-seeds`` file go next to it: seeds.jsonl -> seeds.config.yaml."""
    return Path(out).with_suffix(outdir.SEEDS_CONFIG_SUFFIX)


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


def task_list(tasks: str | None) -> list[str] | None:
    """The names of a comma-separated ``--tasks`` value (blanks skipped); None when it is empty."""
    return [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None


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
    ecfg = cfg.executor_model.resolve(mcfg)
    llm = mcfg.open()
    executor = None
    try:
        executor = ecfg.open() if ecfg is not None else None
        track("induction evaluate", file_sink(out), llm, executor)  # one ledger (and cap) for both
        results = evaluate_benchmark(llm, data, cfg, plan=plan, executor=executor)
    finally:
        llm.close()
        if executor is not None:
            executor.close()
    preds = results.pop("_predictions", None)
    results["config"]["model_options"] = mcfg.public()
    write_json(out / outdir.RESULTS, results)
    atomic_write(out / outdir.TABLE, markdown_table(results))
    if preds is not None:
        write_jsonl(out / outdir.PREDICTIONS, preds)
    write_config(out / outdir.CONFIG, {**as_dict(cfg), **mcfg.public()}, "induction evaluate")
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
    from ..induction.evaluate import score_predictions

    return score_predictions(resolve(data_dir), task, predictions, Path(task_table) if task_table else None)


def dedup(input_path: str | Path, *, out: str | Path, config: DedupConfig | None = None) -> dict[str, Any]:
    """The ROUGE-L novelty filter over a JSONL file, greedily in file order: a record is kept iff
    its max ROUGE-L F with the records kept before it is <= ``config.threshold``. Writes
    ``out/kept.jsonl`` and ``out/rejected.jsonl`` (each record plus ``max_rouge_l`` and
    ``most_similar``), ``summary.json`` and ``config.yaml``; returns the summary (counts)."""
    from ..data.datasets import resolve
    from ..selfinstruct.dedup import dedup_file

    return dedup_file(resolve(input_path), _out_dir(out), config or DedupConfig())
