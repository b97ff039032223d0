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

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.io import write_json, write_jsonl
from ..core.settings import as_dict, option, validate
from ..data import outdir
from ..data.datasets import resolve
from ..data.formats import read_rows, read_triples
from ..data.store import RunStore
from ..evaluate.superni import load_task
from ..induction import benchmark as ii
from ..selfinstruct.export import export_records
from ..selfinstruct.novelty import tokenize
from ..selfinstruct.novelty_pool import NoveltyPool

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

    ngram: int = option(
        NGRAM, "Words in a shared n-gram that flags a record (GPT-3 and Llama reports: 13)", min=4, flag=True
    )
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
    _, rows = read_rows(path, "benchmark file")
    bad = next((line for line, r in rows if not isinstance(r, dict) or "instruction" not in r), None)
    if bad is not None:
        raise InputError.at(path, bad, 'a benchmark record needs an "instruction"')
    return [r for _, r in rows]


# -- the 13-gram test ------------------------------------------------------------------------------

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd: its powers are distinct mod 2^64


class _Grams:
    """Token ids shared by benchmarks and records, and the 64-bit hash of every n-gram."""

    def __init__(self, n: int = NGRAM):
        self.n = n
        self.vocab: dict[str, int] = {}

    def hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(hash, text number) of every n-gram of every text, all texts in one pass: the token ids
        laid end to end, the hash a sum of n shifted slices, windows across two texts dropped."""
        v, n = self.vocab, self.n
        ids = [[v.setdefault(t, len(v) + 1) for t in tokenize(x)] for x in texts]
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        total = int(lens.sum())
        if total < n:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        flat = np.fromiter((t for row in ids for t in row), dtype=np.uint64, count=total)
        w = total - n + 1
        h = np.zeros(w, dtype=np.uint64)
        p = np.uint64(1)
        with np.errstate(over="ignore"):
            for k in range(n):
                h += flat[k : k + w] * p
                p = p * _MULT
        owner = np.repeat(np.arange(len(ids), dtype=np.int64), lens)[:w]
        start = np.repeat(np.cumsum(lens) - lens, lens)[:w]
        keep = np.arange(w) - start <= lens[owner] - n
        return h[keep], owner[keep]


def _ngram_hits(
    b: Benchmark, grams: _Grams, rec_h: np.ndarray, rec_i: np.ndarray, per_record: np.ndarray
) -> dict[int, Hit]:
    """The records sharing an n-gram with ``b``: each with the item it shares the most with."""
    bh, owner = grams.hashes([t for _, t in b.texts])
    if not len(bh) or not len(rec_h):
        return {}
    bi = np.fromiter((k for k, _ in b.texts), dtype=np.int64, count=len(b.texts))[owner]
    order = np.argsort(bh, kind="stable")
    bh, bi = bh[order], bi[order]
    pos = np.minimum(np.searchsorted(bh, rec_h), len(bh) - 1)
    found = bh[pos] == rec_h
    hits: dict[int, Hit] = {}
    if not found.any():
        return hits
    pairs = np.stack([rec_i[found], bi[pos[found]]], axis=1)
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
    grams = _Grams(cfg.ngram)
    # the records' n-grams once for all benchmarks; a field is a text of its own (no n-gram spans two)
    rec_h, owner = grams.hashes([f for r in records for f in r])
    rec_i = owner // 3
    per_record = np.bincount(rec_i, minlength=len(records))
    found = [_ngram_hits(b, grams, rec_h, rec_i, per_record) for b in benchmarks]
    # ROUGE-L: one index of every benchmark's instructions; only a record whose best match over
    # all of them reaches the threshold is scored against each benchmark's own
    pool = NoveltyPool(threshold=threshold)  # queries over every core (a fixed pool: no blocks)
    spans: list[tuple[int, int, int]] = []  # (benchmark, first, end) in the index
    where: list[tuple[int, int]] = []  # index position -> (benchmark, item)
    for bn, b in enumerate(benchmarks):
        first = len(where)
        for k, text in b.instructions:
            pool.add(text)
            where.append((bn, k))
        spans.append((bn, first, len(where)))
    if len(pool):
        with pool:
            bests = pool.max_similarities([instruction for instruction, _, _ in records])
        for i, ((instruction, _, _), (best, _)) in enumerate(zip(records, bests, strict=True)):
            if best < threshold:
                continue
            scores = pool.index.scores(instruction)
            for bn, lo, hi in spans:
                if hi > lo and i not in found[bn]:
                    j = lo + int(np.argmax(scores[lo:hi]))
                    if scores[j] >= threshold:
                        b = benchmarks[bn]
                        found[bn][i] = Hit(i, b.label, b.items[where[j][1]], "rouge", float(scores[j]))
    out = [h for hits in found for h in hits.values()]
    order = {b.label: n for n, b in enumerate(benchmarks)}
    out.sort(key=lambda h: (h.index, order[h.benchmark]))
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


def run_decontaminate(
    run_dir: str | Path | None,
    data: str | Path | None,
    against: Sequence[str | Path],
    out: str | Path | None,
    cfg: DecontaminateConfig,
) -> dict[str, Any]:
    """``instructforge decontaminate`` (see ``api.data.decontaminate``)."""
    if (run_dir is None) == (data is None):
        raise InputError("decontaminate: give a run directory or data=FILE (one of them)")
    if not against:
        raise InputError("decontaminate: give at least one benchmark (--against NAME_OR_PATH)")
    if data is not None and out is None:
        raise InputError("decontaminate: data=FILE needs out=DIR")
    # every input read and checked (names fetched) before anything is written
    records, keys = _records(run_dir, data)
    benchmarks = [load_benchmark(str(a), resolve(a)) for a in against]
    t0 = time.perf_counter()
    hits = decontaminate(records, benchmarks, cfg)
    seconds = time.perf_counter() - t0
    target = Path(out) if out is not None else Path(run_dir or ".") / outdir.DECONTAMINATE_DIR
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory")
    by = Counter(h.benchmark for h in hits)
    summary = {
        "records": len(records),
        "flagged": len({h.index for h in hits}),
        "by_benchmark": {str(a): by.get(str(a), 0) for a in against},
        "by_kind": dict(Counter(h.kind for h in hits)),
        "input": str(run_dir if run_dir is not None else data),
        "seconds": round(seconds, 3),
    }
    write_jsonl(target / outdir.CONTAMINATION, [h.row() for h in hits])
    write_json(target / outdir.SUMMARY, summary)
    outdir.write_config(target / outdir.CONFIG, {"against": [str(a) for a in against], **as_dict(cfg)}, "decontaminate")
    if run_dir is not None:
        store = RunStore(Path(run_dir), create=False)
        try:
            store.set_meta(
                CONTAMINATION_META,
                {
                    "path": str((target / outdir.CONTAMINATION).resolve()),
                    "flagged_keys": sorted({keys[h.index] for h in hits}),
                    **summary,
                },
            )
        finally:
            store.close()
    return summary


def _records(run_dir: str | Path | None, data: str | Path | None) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(instruction, input, output) of every record, and each record's key in a run
    ("task_key:index", so an export can find it)."""
    if run_dir is not None:
        store = RunStore(Path(run_dir), create=False)
        try:
            rows = export_records(store)
        finally:
            store.close()
        return [(r["instruction"], r["input"], r["output"]) for r in rows], [
            f"{r['task_key']}:{r['index']}" for r in rows
        ]
    assert data is not None
    _, recs = read_triples(resolve(data))
    return [(t.instruction, t.input, t.output) for _, t in recs], []
