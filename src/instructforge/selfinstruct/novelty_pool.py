"""The novelty index on every core: the same answers as ``NoveltyIndex`` (bit for bit, decisions
and reported scores alike), with the queries of a batch split over processes.

Each process (the caller's and ``processes - 1`` workers) holds a full copy of the index. A
batch of greedy decisions (``greedy``) goes in blocks of ``block`` texts: every process answers
its slice of block k against the pool as it stood before block k-1, and also scores each of its
texts against the texts of blocks k-1 and k before it; the caller then walks block k in order
(a text sees that pool plus the texts kept since, exactly as one process would) and every copy
adds the kept texts. Answering one block late lets a worker hold the next block while the
caller decides the current one. ``max_similarities`` (a fixed pool, as decontamination asks)
splits the queries without blocks. Small batches stay in one process: starting workers costs
about a quarter of a second.

Why this gives the sequential answer (docs/novelty.md): ``NoveltyIndex`` returns the max F over
the pool and the first index reaching it, or (0.0, 0) when nothing is shared. Over the pool plus
the texts kept since, the max is the larger of the two maxima, a tie goes to the pool (its
indices come first), and among the kept texts the first reaching the max wins.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from .novelty import NoveltyIndex, _code, tokenize

__all__ = ["NoveltyPool", "default_processes"]

BLOCK = 64  # texts per greedy block: larger means fewer messages, more pairs scored within blocks
MIN_PARALLEL = 2_000  # texts in one call below which workers are not worth starting

Answer = tuple[float, int | None]


def default_processes() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _Lane:
    """One process's share of the work: a full copy of the index."""

    def __init__(self, threshold: float, use_stemmer: bool):
        self.index = NoveltyIndex(threshold=threshold, use_stemmer=use_stemmer)

    def add(self, texts: Iterable[str]) -> None:
        for t in texts:
            self.index.add(t)

    def query(self, texts: Sequence[str]) -> tuple[list[Answer], int]:
        before = self.index.exact_scored
        return [self.index.max_similarity(t) for t in texts], self.index.exact_scored - before

    def block(self, texts: Sequence[str], a: int, b: int) -> tuple[list[Answer], np.ndarray, int]:
        """For texts a..b-1 of a block: the answer against the pool, and the F of each against
        every text of the block before ``b`` (row j-a, column i; only i < j is used)."""
        use_stemmer = self.index.use_stemmer
        tokens = [tokenize(t, use_stemmer) for t in texts[:b]]
        before = self.index.exact_scored
        answers = [self.index._max_similarity(tokens[j]) for j in range(a, b)]
        exact = self.index.exact_scored - before
        return answers, _block_scores(tokens, a, b), exact + (b - a) * b


def _block_scores(tokens: list[list[str]], a: int, b: int) -> np.ndarray:
    """ROUGE-L F of tokens[a:b] (targets) against tokens[:b] (predictions), with the float
    expression of ``NoveltyIndex._fmeasures`` (the same operations in the same order)."""
    vocab: dict[str, int] = {}
    seqs = ["".join(chr(_code(vocab.setdefault(x, len(vocab)))) for x in ts) for ts in tokens]
    lens = np.array([len(ts) for ts in tokens], dtype=np.float64)
    lcs = process.cdist(seqs[a:b], seqs, scorer=LCSseq.similarity, dtype=np.int32, workers=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = lcs / lens[None, :]
        recall = lcs / lens[a:b, None]
        f = 2 * precision * recall / (precision + recall)
    f[lcs == 0] = 0.0
    return f


def _serve(fd: int, threshold: float, use_stemmer: bool) -> None:
    """A worker's loop (``python -c`` runs it): jobs in, answers out, over one socket."""
    conn = Connection(fd)
    lane = _Lane(threshold, use_stemmer)
    while True:
        try:
            op, adds, *args = conn.recv()
        except EOFError:  # the caller is gone
            return
        if op == "stop":
            return
        lane.add(adds)
        if op == "block":
            conn.send(lane.block(*args))
        elif op == "query":
            conn.send(lane.query(*args))


_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter
TRIM_THRESHOLD = 256 * 1024 * 1024  # bytes of free heap top a process keeps during a parallel call
_GLIBC_DEFAULT_TRIM = 128 * 1024


def _mallopt(param: int, value: int) -> bool:
    try:
        return bool(ctypes.CDLL(None).mallopt(param, value))
    except (AttributeError, OSError):  # not glibc
        return False


@contextlib.contextmanager
def _heap_kept() -> Iterator[None]:
    """glibc hands freed memory at the top of the heap back to the OS once it exceeds 128 KB,
    and in a process doing nothing but queries the heap top is the per-query arrays: each query
    then faults them in again. Measured in a worker (whose environment sets the same threshold):
    0.9M page faults and 1.8 s of system time over the 52K stream, 5.9 s vs 3.6 s for its share;
    in the caller, 5.7 s vs 4.1 s for the whole stream. Set for the call, glibc's default after."""
    changed = _mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    try:
        yield
    finally:
        if changed:
            _mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_TRIM)


def _start_worker(threshold: float, use_stemmer: bool) -> tuple[subprocess.Popen, Connection]:
    """A worker process and the caller's end of its socket. A plain ``python -c`` rather than
    multiprocessing: spawn would re-run the caller's main script (one without a ``__main__``
    guard starts over), fork would copy a caller's threads (torch, asyncio) mid-state."""
    mine, theirs = socket.socketpair()
    package_root = str(Path(__file__).resolve().parents[2])  # where instructforge is importable from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_", str(TRIM_THRESHOLD)),  # see _heap_kept
    }
    code = f"from instructforge.selfinstruct.novelty_pool import _serve; _serve({theirs.fileno()}, {float(threshold)!r}, {bool(use_stemmer)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
    theirs.close()
    return proc, Connection(mine.detach())


class NoveltyPool:
    """A growing pool answering as ``NoveltyIndex`` does, on ``processes`` cores (default: all
    this process may use). Use as a context manager, or call ``close()``.

    ``greedy(texts)`` is ``[index.check_and_add(t) for t in texts]``; ``max_similarities(texts)``
    is ``[index.max_similarity(t) for t in texts]``; ``add`` and ``texts`` as on the index.
    """

    def __init__(
        self,
        threshold: float = 0.7,
        use_stemmer: bool = False,
        processes: int | None = None,
        *,
        block: int = BLOCK,
        min_parallel: int = MIN_PARALLEL,
    ):
        if processes is not None and processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.threshold = threshold
        self.use_stemmer = use_stemmer
        self.processes = processes or default_processes()
        self.block = max(1, block)
        self.min_parallel = min_parallel
        self._lane = _Lane(threshold, use_stemmer)
        self._workers: list[tuple[subprocess.Popen, Connection]] = []
        self._pending: list[str] = []  # texts the workers have not added yet
        self._failed = False
        self.pairs_seen = 0
        self.exact_scored = 0
        self.processes_used = 1  # most processes that answered one call

    # -- the pool ----------------------------------------------------------------------------
    @property
    def texts(self) -> list[str]:
        return self._lane.index.texts

    @property
    def index(self) -> NoveltyIndex:
        """This process's copy of the index (for what runs in one process, e.g. ``scores``)."""
        return self._lane.index

    def __len__(self) -> int:
        return len(self._lane.index)

    def add(self, text: str) -> int:
        if self._workers:
            self._pending.append(text)
        return self._lane.index.add(text)

    # -- workers -----------------------------------------------------------------------------
    def _parallel(self, n_texts: int) -> bool:
        if self.processes < 2 or self._failed or n_texts < max(self.min_parallel, 2):
            return False
        if not self._workers:
            for _ in range(self.processes - 1):
                self._workers.append(_start_worker(self.threshold, self.use_stemmer))
            self._pending = list(self.texts)  # a new worker starts empty
        self.processes_used = max(self.processes_used, 1 + len(self._workers))
        return True

    def close(self) -> None:
        for _, conn in self._workers:
            try:
                conn.send(("stop", []))
            except OSError:
                pass
            conn.close()
        for p, _ in self._workers:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._workers = []

    def __enter__(self) -> NoveltyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------------
    def _slices(self, n: int) -> list[tuple[int, int]]:
        lanes = 1 + len(self._workers)
        cuts = [round(n * k / lanes) for k in range(lanes + 1)]
        return list(zip(cuts, cuts[1:], strict=False))

    def max_similarities(self, texts: Sequence[str]) -> list[Answer]:
        """Max ROUGE-L F of each text against the pool and the index of the first text reaching
        it (the pool does not change)."""
        texts = list(texts)
        self.pairs_seen += len(texts) * len(self)
        if self._parallel(len(texts)):
            (a0, b0), *rest = self._slices(len(texts))
            if self._send([("query", (texts[a:b],)) for a, b in rest]):
                with _heap_kept():
                    own = self._lane.query(texts[a0:b0])
                    others = self._receive()
                if others is not None:
                    replies = [own, *others]
                    self.exact_scored += sum(e for _, e in replies)
                    return [x for part, _ in replies for x in part]
        answers, exact = self._lane.query(texts)
        self.exact_scored += exact
        return answers

    def greedy(self, texts: Sequence[str]) -> list[tuple[bool, float, int | None]]:
        """The Self-Instruct filter over ``texts`` in order: each is kept iff its max similarity
        with the pool (kept texts included) is <= threshold; kept texts join the pool. Returns
        ``(kept, score, index)`` per text, as ``NoveltyIndex.check_and_add`` would."""
        texts = list(texts)
        if not self._parallel(len(texts)):
            return [self.check_and_add(t) for t in texts]
        with _heap_kept():
            return self._greedy_blocks([texts[s : s + self.block] for s in range(0, len(texts), self.block)])

    def check_and_add(self, text: str) -> tuple[bool, float, int | None]:
        """One text in this process, as ``NoveltyIndex.check_and_add``."""
        index = self._lane.index
        self.pairs_seen += len(index)
        before = index.exact_scored
        kept, score, idx = index.check_and_add(text)
        self.exact_scored += index.exact_scored - before
        if kept and self._workers:
            self._pending.append(text)
        return kept, score, idx

    def _job(self, blocks: list[list[str]], k: int) -> tuple[list[str], list[tuple[int, int]]]:
        """Block k with the block before it (its context) and each lane's slice of block k, as
        positions in the context (equal slices: measured best, the caller's decisions take
        about as long as a worker's extra tokenizing)."""
        prev = blocks[k - 1] if k else []
        return prev + blocks[k], [(len(prev) + a, len(prev) + b) for a, b in self._slices(len(blocks[k]))]

    def _send_job(self, jobs: list[tuple[list[str], list[tuple[int, int]]]], k: int) -> bool:
        if k >= len(jobs):
            return True
        ctx, slices = jobs[k]
        return self._send([("block", (ctx[:b], a, b)) for a, b in slices[1:]])

    def _greedy_blocks(self, blocks: list[list[str]]) -> list[tuple[bool, float, int | None]]:
        """Block k is answered by every lane against the pool as it stood before block k-1, so
        a worker always has the next block queued while the caller decides the current one
        (it never waits for the caller); the texts kept in blocks k-1 and k are then scored
        from the rows each lane returns (F against its context, the two blocks)."""
        out: list[tuple[bool, float, int | None]] = []
        kept_prev: list[int] = []  # positions kept in block k-1 (= their positions in k's context)
        decided: list[str] = []  # block k-1
        jobs = [self._job(blocks, k) for k in range(len(blocks))]  # each sent two blocks ahead
        ok = self._send_job(jobs, 0) and self._send_job(jobs, 1)
        for k, blk in enumerate(blocks):
            others = None
            if ok:
                ctx, slices = jobs[k]
                (a0, b0), off = slices[0], len(ctx) - len(blk)
                own = self._lane.block(ctx[:b0], a0, b0)
                others = self._receive()
            if others is None:  # a worker went away: the rest in this process
                break
            answers: list[Answer] = []
            rows: list[np.ndarray] = []
            for (a, _), (part, f, exact) in zip(slices, [own, *others], strict=True):
                answers += part
                rows += [f[j - a] for j in range(a, a + len(part))]
                self.exact_scored += exact
            base = len(self._lane.index)  # the pool before block k-1
            cols = kept_prev[:]  # context positions of the texts kept since, in pool order
            kept_now: list[int] = []
            for j, (score, idx) in enumerate(answers):
                self.pairs_seen += base + len(cols)
                if cols:
                    row = rows[j][cols]
                    r = int(np.argmax(row))
                    if row[r] > score:  # a tie goes to the earlier text: the pool's come first
                        score, idx = float(row[r]), base + r
                    elif idx is None:  # empty pool, nothing shared with the kept texts either
                        idx = 0
                kept = score <= self.threshold
                if kept:
                    cols.append(off + j)
                    kept_now.append(j)
                out.append((kept, score, idx))
            # The workers lack block k's kept texts for block k+2; this process lacks block
            # k-1's for block k+1.
            self._pending += [blk[j] for j in kept_now]
            ok = self._send_job(jobs, k + 2)
            self._lane.add(decided[j] for j in kept_prev)
            kept_prev, decided = kept_now, blk
        # this process's copy catches up (the workers get the same texts with their next job)
        self._lane.add(decided[j] for j in kept_prev)
        if not self._workers:
            self._pending = []
        rest = [t for b in blocks for t in b][len(out) :]
        return out + [self.check_and_add(t) for t in rest]

    def _send(self, jobs: list[tuple[str, tuple]]) -> bool:
        """One job to each worker, with the texts it has not added yet."""
        try:
            for (_, conn), (op, args) in zip(self._workers, jobs, strict=True):
                conn.send((op, self._pending, *args))
        except OSError:
            self._failed = True
            self.close()
            return False
        self._pending = []
        return True

    def _receive(self) -> list[Any] | None:
        """Every worker's answer to what ``_send`` sent; None (and one process from then on) if
        one of them is gone."""
        try:
            return [conn.recv() for _, conn in self._workers]
        except (EOFError, OSError):
            self._failed = True
            self.close()
            return None
