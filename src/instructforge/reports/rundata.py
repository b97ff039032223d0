"""Everything the report shows about a generate run, aggregated from its run store.

Follows the data analysis of Self-Instruct (Wang et al. 2023, section 3.2, docs/methods.md section 2):
verb-noun structure (verbs.py), ROUGE-L of each generated instruction to its most similar seed
instruction (Figure 3), and instruction / input / output length histograms (Figure 4), plus the
funnel with every rejection reason, the cost of the run and, once ``instructforge score`` has
run, the score distributions, the audit table and the lowest/highest records (quality/summary.py). Charts get aggregates computed here
(histogram counts, never raw points) and the table a bounded sample, so a 100K-record run still
makes a small page.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.settings import option, validate
from ..core.stats import histogram
from ..data.outdir import RUN_DB
from ..data.runrecords import Candidate, ScoreRecord, TaskRecord
from ..data.store import RunStore
from . import usage, verbs

#: meta "stage" is the last stage a run completed; generate sets "instances" when it is done
FINISHED_STAGES = {"instances", "done"}


@dataclass
class ReportConfig:
    """Every setting of ``instructforge report`` (``instructforge config show report``)."""

    table_rows: int = option(
        2000,
        "Candidates sampled into the browsable table (half accepted, half rejected when both are larger)",
        min=0,
        flag=True,
    )
    top_verbs: int = option(20, "Root verbs in the verb-noun sunburst (paper Figure 2: 20)", min=1, flag=True)
    top_nouns: int = option(4, "Direct-object nouns per verb (paper Figure 2: 4)", min=1, flag=True)
    parse_limit: int = option(
        2000,
        "Accepted instructions parsed for the verb-noun chart, a seeded random sample (0 = all, as the paper)",
        min=0,
        flag=True,
    )
    rouge_limit: int = option(
        20000,
        "Accepted instructions scored against the seeds for the ROUGE-L histogram, "
        "a seeded random sample (0 = all, as the paper)",
        min=0,
        flag=True,
    )
    rouge_bins: int = option(20, "ROUGE-L histogram bins over [0, 1]", min=1)
    length_bins: int = option(30, "Bins of each length histogram", min=1)
    text_chars: int = option(400, "Longest text kept per table cell", min=1)
    spacy_model: str | None = option(
        None, "spaCy pipeline of the verb-noun parse (default: the first installed English one)", flag=True
    )
    sample_seed: int = option(
        0, "RNG seed of every sample (table, parse, ROUGE-L), so a report is reproducible", flag=True
    )
    score_records: int = option(
        10, "Lowest- and highest-scoring records shown (runs scored by `instructforge score`)", min=0
    )

    def __post_init__(self) -> None:
        validate(self)


def _words(text: str) -> int:
    return len(str(text).split())


def _sample(items: list[Any], k: int, rng: random.Random) -> list[Any]:
    if k <= 0 or len(items) <= k:
        return list(items)
    idx = sorted(rng.sample(range(len(items)), k))
    return [items[i] for i in idx]


def _clip(text: Any, n: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def collect_run(run_dir: Path, cfg: ReportConfig | None = None) -> dict[str, Any]:
    cfg = cfg or ReportConfig()
    try:
        store = RunStore(run_dir, create=False)
    except sqlite3.DatabaseError as e:
        raise InputError.at(Path(run_dir) / RUN_DB, None, f"not a readable run store ({e})") from None
    try:
        return _collect(store, cfg)
    except sqlite3.DatabaseError as e:
        raise InputError.at(Path(run_dir) / RUN_DB, None, f"not a readable run store ({e})") from None
    finally:
        store.close()


def _collect(store: RunStore, cfg: ReportConfig) -> dict[str, Any]:
    seeds = store.seeds()
    candidates = store.candidates()
    tasks = {t.key: t for t in store.tasks()}
    inst_rej = store.instance_rejections()
    stats = store.get_meta("stats", {}) or {}
    stage = store.get_meta("stage")
    config = store.read_config()

    accepted = [c for c in candidates if c.accepted]
    rejected = [c for c in candidates if not c.accepted]
    good_tasks = [t for t in tasks.values() if t.accepted]
    instances = [i for t in good_tasks for i in t.instances]

    # config.yaml of generate: {"model": {"model": SPEC, ...}, "generate": {GenerateConfig fields}}
    gen: dict[str, Any] = config["generate"] if isinstance(config.get("generate"), dict) else config
    model = config.get("model")
    model = model.get("model") if isinstance(model, dict) else model
    target = gen.get("num_instructions")
    empty = not candidates and not tasks
    finished = stage in FINISHED_STAGES
    if empty:
        message = "This run has no generated records yet: nothing to analyse."
    elif not finished:
        message = (
            f"This run is unfinished (last completed stage: {stage or 'none'}; {len(accepted)} of "
            f"{target if target is not None else '?'} instructions accepted): figures show what "
            "is committed so far. Rerun generate to resume."
        )
    else:
        message = ""

    rng = random.Random(cfg.sample_seed)
    instructions = [c.instruction for c in accepted]
    data: dict[str, Any] = {
        "kind": "run",
        "path": str(store.dir),
        "status": {"stage": stage, "finished": bool(finished), "empty": empty, "message": message, "target": target},
        "model": model,
        "config": {
            k: gen[k] for k in ("mode", "num_instructions", "seed", "rouge_threshold", "max_instances") if k in gen
        },
        "report_config": asdict(cfg),
        "funnel": {
            "seeds": len(seeds),
            "candidates": len(candidates),
            "accepted_instructions": len(accepted),
            "tasks_with_instances": len(good_tasks),
            "instances": len(instances),
        },
        "rejections": {
            "instruction": dict(Counter(c.reason or "unknown" for c in rejected).most_common()),
            "task": dict(Counter(t.reason or "unknown" for t in tasks.values() if not t.accepted).most_common()),
            "instance": dict(Counter(r.reason or "unknown" for r in inst_rej).most_common()),
        },
        "verbs": _verb_section(instructions, cfg, rng),
        "rouge_to_seed": _rouge_section(instructions, [s.instruction for s in seeds], cfg, rng),
        "pool_rouge": {
            status: histogram(
                [float(c.max_rouge_l) for c in group if c.max_rouge_l is not None], cfg.rouge_bins, 0.0, 1.0
            )
            for status, group in (("accepted", accepted), ("rejected", rejected))
        },
        "lengths": {
            "instruction": histogram([_words(t) for t in instructions], cfg.length_bins, 0, integer=True),
            "input": histogram([_words(i.input) for i in instances], cfg.length_bins, 0, integer=True),
            "output": histogram([_words(i.output) for i in instances], cfg.length_bins, 0, integer=True),
        },
        "classification": _classification(good_tasks, accepted),
        "cost": _cost(stats),
        "usage": usage.from_store(store),
        "scores": _score_section(store, good_tasks, cfg),
        "contamination": _contamination(store),
    }
    data["table"] = _table(candidates, tasks, cfg, rng)
    return data


def _contamination(store: RunStore, shown: int = 50) -> dict[str, Any] | None:
    """``instructforge decontaminate``'s summary and its first flagged records, when it has run."""
    import json

    meta = store.get_meta("contamination")
    if not meta:
        return None
    rows: list[dict[str, Any]] = []
    try:
        with open(meta["path"], encoding="utf-8") as f:
            for line in f:
                if len(rows) >= shown:
                    break
                rows.append(json.loads(line))
    except (OSError, ValueError):
        pass
    keep = ("records", "flagged", "by_benchmark", "by_kind", "path")
    return {**{k: meta.get(k) for k in keep}, "rows": rows}


def _score_section(store: RunStore, good_tasks: list[TaskRecord], cfg: ReportConfig) -> dict[str, Any]:
    """``instructforge score``'s results (quality/summary.py), when the run has been scored."""
    if not store.count(ScoreRecord.kind):
        return {"available": False}
    from ..quality.scoring import current_scores, task_items
    from ..quality.summary import score_section

    items = task_items(good_tasks)
    return {
        **score_section(current_scores(store, items), len(items), cfg.score_records),
        "meta": store.get_meta("score") or {},
    }


def _verb_section(instructions: list[str], cfg: ReportConfig, rng: random.Random) -> dict[str, Any]:
    if not instructions:
        return {"available": False, "message": "no accepted instructions to parse", "parser": None}
    parser, why = verbs.load_parser(cfg.spacy_model)
    if parser is None:
        return {"available": False, "message": f"Verb-noun analysis unavailable: {why}.", "parser": None}
    texts = _sample(instructions, cfg.parse_limit, rng)
    out = verbs.top_structure(verbs.extract_pairs(parser, texts), cfg.top_verbs, cfg.top_nouns)
    return {"available": True, "message": "", "parser": parser.label, "of": len(instructions), **out}


def _rouge_section(instructions: list[str], seeds: list[str], cfg: ReportConfig, rng: random.Random) -> dict[str, Any]:
    if not seeds:
        return {"available": False, "message": "the run store holds no seed tasks", "hist": histogram([], 1)}
    if not instructions:
        return {"available": False, "message": "no accepted instructions", "hist": histogram([], 1)}
    from ..selfinstruct.novelty import NoveltyIndex

    index = NoveltyIndex(1.0)  # threshold unused: only max_similarity is asked
    for s in seeds:
        index.add(s)
    texts = _sample(instructions, cfg.rouge_limit, rng)
    scores = [index.max_similarity(t)[0] for t in texts]
    return {
        "available": True,
        "message": "",
        "seeds": len(seeds),
        "scored": len(texts),
        "of": len(instructions),
        "hist": histogram(scores, cfg.rouge_bins, 0.0, 1.0),
    }


def _classification(tasks: list[TaskRecord], accepted: list[Candidate]) -> dict[str, Any]:
    if tasks:
        flags, source = [t.is_classification for t in tasks], "tasks with instances"
    else:
        flags = [bool(c.is_classification) for c in accepted if c.is_classification is not None]
        source = "accepted instructions"
    return {"classification": sum(flags), "non_classification": len(flags) - sum(flags), "source": source}


def _cost(stats: dict[str, Any]) -> dict[str, Any]:
    keys = ("requests", "prompt_tokens", "completion_tokens", "cache_hits", "cache_misses", "wall_seconds")
    out: dict[str, Any] = {k: stats.get(k) for k in keys}
    wall = float(stats.get("wall_seconds") or 0.0)
    comp = int(stats.get("completion_tokens") or 0)
    total = comp + int(stats.get("prompt_tokens") or 0)
    out["completion_tokens_per_s"] = round(comp / wall, 2) if wall > 0 else None
    out["total_tokens_per_s"] = round(total / wall, 2) if wall > 0 else None
    hits, misses = int(stats.get("cache_hits") or 0), int(stats.get("cache_misses") or 0)
    out["cache_hit_rate"] = round(hits / (hits + misses), 4) if hits + misses else None
    out["available"] = bool(stats)
    return out


TABLE_COLUMNS = [
    "key",
    "status",
    "reason",
    "detail",
    "instruction",
    "prompt",
    "max_rouge_l",
    "most_similar",
    "classification",
    "instances",
    "first_input",
    "first_output",
]


def _table(
    candidates: list[Candidate], tasks: dict[str, TaskRecord], cfg: ReportConfig, rng: random.Random
) -> dict[str, Any]:
    acc = [c for c in candidates if c.accepted]
    rej = [c for c in candidates if not c.accepted]
    half = cfg.table_rows // 2
    # Half of the rows for each side when both are large; a short side leaves its room to the other.
    n_rej = min(len(rej), max(half, cfg.table_rows - len(acc)))
    n_acc = min(len(acc), cfg.table_rows - n_rej)
    chosen = sorted(_sample(acc, n_acc, rng) + _sample(rej, n_rej, rng), key=lambda c: c.key)
    rows = []
    n = cfg.text_chars
    for c in chosen:
        task = tasks.get(c.key)
        task_rejected = task is not None and not task.accepted
        insts = task.instances if task is not None else []
        reason = c.reason or (task.reason if task is not None and task_rejected else None)
        detail = c.detail or (task.detail if task is not None and task_rejected else None)
        clf = task.is_classification if task is not None else c.is_classification
        rows.append(
            [
                c.key,
                "rejected (task)" if task_rejected else c.status,
                reason or "",
                _clip(detail, n),
                _clip(c.instruction, n),
                c.prompt_index,
                c.max_rouge_l,
                _clip(c.most_similar, n),
                None if clf is None else bool(clf),
                len(insts),
                _clip(insts[0].input if insts else "", n),
                _clip(insts[0].output if insts else "", n),
            ]
        )
    return {"columns": TABLE_COLUMNS, "rows": rows, "total": len(candidates), "shown": len(rows)}
