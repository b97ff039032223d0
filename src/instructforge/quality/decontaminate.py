"""Decontamination: which generated records overlap a benchmark they will be evaluated on.

Two tests, per record and benchmark (``instructforge decontaminate``, docs/decontaminate.md):
- a shared word 13-gram between the record's instruction, input or output and the benchmark's
  text (its instructions/definitions, inputs and references): the test of the GPT-3 report
  (Brown et al. 2020, appendix C) and the Llama reports; words are rouge_score's tokens
  (lowercase runs of ``[a-z0-9]``), and a 13-gram never spans two fields;
- ROUGE-L >= 0.7 between the record's instruction and one of the benchmark's instructions (SuperNI
  definitions, user-oriented and seed instructions, Instruction Induction gold annotations): the
  Self-Instruct novelty threshold, computed exactly by the novelty index (selfinstruct/novelty.py).

The 13-gram test is vectorised: each 13-gram becomes one 64-bit polynomial hash of its token
ids (numpy, wrapping arithmetic), the benchmark's hashes are sorted once, and all records' hashes
are looked up with one ``searchsorted``. A record flagged by both tests is reported once per
benchmark, as ``ngram`` (the stronger evidence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.settings import option, validate
from ..evaluate.superni import load_task
from ..induction import benchmark as ii
from ..selfinstruct.novelty import NoveltyIndex, tokenize

__all__ = [
    "CONTAMINATION_META",
    "contaminated_keys",
    "NGRAM",
    "ROUGE_THRESHOLD",
    "Benchmark",
    "DecontaminateConfig",
    "Hit",
    "decontaminate",
    "load_benchmark",
]

CONTAMINATION_META = "contamination"  # run store meta: the run's last decontamination
NGRAM = 13
ROUGE_THRESHOLD = 0.7
SUPERNI_TEST_INSTANCES = 100  # the official test instances of a task are its first 100


@dataclass
class DecontaminateConfig:
    """Settings of ``instructforge decontaminate`` (``instructforge config show decontaminate``)."""

    ngram: int = option(NGRAM, "Words in a shared n-gram that flags a record (GPT-3 and Llama reports: 13)", min=4)
    rouge_threshold: float = option(
        ROUGE_THRESHOLD,
        "Flag an instruction whose ROUGE-L F with a benchmark instruction is at least this (Self-Instruct: 0.7)",
        min=0.0,
        max=1.0,
        flag=True,
    )

    def __post_init__(self) -> None:
        validate(self)


@dataclass(slots=True)
class Benchmark:
    label: str  # as given to --against: a dataset name or a path
    items: list[str]  # item ids: task names or instruction ids
    instructions: list[tuple[int, str]]  # (item, instruction text) for the ROUGE-L test
    texts: list[tuple[int, str]]  # (item, text) for the 13-gram test (instructions included)


@dataclass(slots=True)
class Hit:
    index: int
    benchmark: str
    item: str
    kind: str  # "ngram" | "rouge"
    score: float  # ngram: share of the record's 13-grams found in the item; rouge: the ROUGE-L F

    def row(self) -> dict[str, Any]:
        return {"index": self.index, "benchmark": self.benchmark, "item": self.item, "kind": self.kind,
                "score": round(self.score, 4)}  # fmt: skip


# -- benchmarks ------------------------------------------------------------------------------------


def load_benchmark(label: str, path: Path) -> Benchmark:
    """A benchmark from a folder of SuperNI task files, an Instruction Induction data folder, or a
    JSONL / JSON list file of instructions (user-oriented, seed tasks, Alpaca: ``instruction`` plus
    ``input``/``output`` or ``instances``)."""
    b = Benchmark(label, [], [], [])
    if path.is_dir() and any(path.glob("task*.json")):
        for f in sorted(path.glob("task*.json")):
            t = load_task(f, SUPERNI_TEST_INSTANCES)
            k = _item(b, t.name)
            b.instructions.append((k, t.definition))
            b.texts.append((k, t.definition))
            b.texts += [(k, s) for e in t.positive_examples for s in (e["input"], e["output"])]
            b.texts += [(k, s) for inst in t.instances for s in (inst.input, *inst.references)]
    elif path.is_dir() and (path / "raw" / "execute").is_dir():
        for task in ii.task_names(path):
            k = _item(b, task)
            for g in ii.gold_instructions(path, task):
                b.instructions.append((k, g))
                b.texts.append((k, g))
            for ex in ii.read_examples(path / "raw" / "execute" / f"{task}.json").values():
                b.texts += [(k, str(ex[f])) for f in ("input", "output") if isinstance(ex, dict) and f in ex]
    elif path.is_file():
        for n, row in enumerate(_rows(path)):
            k = _item(b, str(row.get("id", n)))
            ins = str(row.get("instruction", ""))
            b.instructions.append((k, ins))
            b.texts.append((k, ins))
            for inst in row.get("instances") or [row]:
                if isinstance(inst, dict):
                    b.texts += [(k, str(inst[f])) for f in ("input", "output") if inst.get(f)]
    else:
        raise InputError(f"{path}: not a benchmark (a SuperNI task folder, an Instruction Induction folder or a file)")
    if not b.items:
        raise InputError(f"{path}: no benchmark items")
    return b


def _item(b: Benchmark, name: str) -> int:
    b.items.append(name)
    return len(b.items) - 1


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict) or "instruction" not in r), None)
    if bad is not None:
        raise InputError.at(path, bad + 1, 'a benchmark record needs an "instruction"')
    return rows


# -- the 13-gram test ------------------------------------------------------------------------------

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd: powers of it are distinct mod 2^64


class _Grams:
    """Token ids shared by benchmark and records, and the 64-bit hash of every 13-gram."""

    def __init__(self, n: int = NGRAM):
        self.n = n
        self.vocab: dict[str, int] = {}
        self.powers = _MULT ** np.arange(n, dtype=np.uint64)

    def hashes(self, text: str) -> np.ndarray:
        toks = tokenize(text)
        if len(toks) < self.n:
            return np.empty(0, dtype=np.uint64)
        v = self.vocab
        ids = np.fromiter((v.setdefault(t, len(v) + 1) for t in toks), dtype=np.uint64, count=len(toks))
        windows = np.lib.stride_tricks.sliding_window_view(ids, self.n)
        with np.errstate(over="ignore"):
            return (windows * self.powers).sum(axis=1, dtype=np.uint64)


def _ngram_hits(b: Benchmark, grams: _Grams, records: list[tuple[str, str, str]]) -> dict[int, Hit]:
    parts = [(grams.hashes(t), k) for k, t in b.texts]
    if not any(len(h) for h, _ in parts):
        return {}
    bh = np.concatenate([h for h, _ in parts])
    bi = np.concatenate([np.full(len(h), k, dtype=np.int64) for h, k in parts])
    order = np.argsort(bh, kind="stable")
    bh, bi = bh[order], bi[order]
    rec_h, rec_i = [], []
    for i, fields in enumerate(records):
        for f in fields:
            h = grams.hashes(f)
            if len(h):
                rec_h.append(h)
                rec_i.append(np.full(len(h), i, dtype=np.int64))
    if not rec_h:
        return {}
    rh, ri = np.concatenate(rec_h), np.concatenate(rec_i)
    pos = np.minimum(np.searchsorted(bh, rh), len(bh) - 1)
    found = bh[pos] == rh
    per_record = np.bincount(ri, minlength=len(records))
    hits: dict[int, Hit] = {}
    if not found.any():
        return hits
    pairs = np.stack([ri[found], bi[pos[found]]], axis=1)
    uniq, counts = np.unique(pairs, axis=0, return_counts=True)
    for (rec, item), c in zip(uniq.tolist(), counts.tolist(), strict=True):
        score = c / per_record[rec]
        if rec not in hits or score > hits[rec].score:
            hits[rec] = Hit(rec, b.label, b.items[item], "ngram", score)
    return hits


# -- both tests ------------------------------------------------------------------------------------


def decontaminate(
    records: list[tuple[str, str, str]], benchmarks: list[Benchmark], config: DecontaminateConfig | None = None
) -> list[Hit]:
    """Every (record, benchmark) overlap of ``records`` ((instruction, input, output) each), in
    record order, then benchmark order."""
    cfg = config or DecontaminateConfig()
    threshold = cfg.rouge_threshold
    out: list[Hit] = []
    grams = _Grams(cfg.ngram)
    for b in benchmarks:
        hits = _ngram_hits(b, grams, records)
        index = NoveltyIndex(threshold=threshold)
        owner = []
        for k, text in b.instructions:
            index.add(text)
            owner.append(k)
        for i, (instruction, _, _) in enumerate(records):
            if i in hits:
                continue
            score, j = index.max_similarity(instruction)
            if j is not None and score >= threshold:
                hits[i] = Hit(i, b.label, b.items[owner[j]], "rouge", score)
        out += hits.values()
    out.sort(key=lambda h: (h.index, [b.label for b in benchmarks].index(h.benchmark)))
    return out


def contaminated_keys(store: Any) -> set[str]:
    """The export records of a run (``task_key:index``) its last ``decontaminate`` flagged; an
    InputError if it has not been decontaminated, or has grown since."""
    from ..selfinstruct.export import export_records

    meta = store.get_meta(CONTAMINATION_META)
    if not meta:
        raise InputError(
            f"{store.dir}: not decontaminated yet; run `instructforge decontaminate {store.dir} --against "
            "superni-test user-oriented` (or other benchmarks) before exporting with --drop-contaminated"
        )
    n = len(export_records(store))
    if n != meta["records"]:
        raise InputError(
            f"{store.dir}: the run has {n} records, {meta['records']} when it was decontaminated; "
            f"run `instructforge decontaminate {store.dir} ...` again"
        )
    return set(meta["flagged_keys"])
