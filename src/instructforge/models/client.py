"""The LLM client every stage uses: cache in front, executor behind, stats on the side.

Two ways in:

- ``llm.stream()``: a ``Stream`` that takes requests (``submit``) and gives back completions as
  they finish (``wait`` / ``results``), keeping the executor's window full: the openai backend
  keeps ``--concurrency`` requests in flight, a local engine takes the next batch the moment it
  is free, Ray keeps every actor busy. Requests carry a priority (larger first), so a dataflow
  can finish downstream work before it starts new work. The cache is consulted on submit
  (a hit comes back at once, costing nothing) and written as each answer arrives, so a killed
  run keeps everything it already paid for.
- ``llm.generate(requests)``: one Completion per Request, in order (a stream underneath).

``INSTRUCTFORGE_REQUEST_LOG=FILE`` appends one JSON line per answered request (the request and
what came back: finish reason, token counts, seconds in flight), for replaying a run's exact
workload elsewhere (benchmarks/vllm_client.py) or debugging.

Every answer and cache hit also goes into ``llm.ledger`` (models/usage.py: per stage and per
model, persisted by the command into its run store or ``usage.json``), written right before the
answers go into the cache; with a token or cost cap the stream sends a request only while its worst case fits and
raises ``BudgetExceeded`` (exit 3) when nothing is in flight and the next one does not.

A request the server refuses comes back as an error completion (``finish_reason "error"``),
counted in the stats and never cached; ``max_consecutive_errors`` of them in a row stop the run
with one line (a server that refuses everything, e.g. a parameter it does not accept).
"""

from __future__ import annotations

import heapq
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import BackendError, BudgetExceeded
from .backends import Backend, BackendOptions, load_backend, model_identity
from .cache import CallCache, cache_key
from .executors import Executor, LocalExecutor
from .types import Completion, Request
from .usage import Ledger, Price


@dataclass
class Stats:
    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0  # time with at least one request in flight
    finish_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["tokens_per_second"] = round(self.completion_tokens / self.model_seconds, 2) if self.model_seconds else None
        return d


class LLM:
    def __init__(
        self,
        spec: str = "embedded",
        options: BackendOptions | None = None,
        *,
        cache: CallCache | None = None,
        executor: Executor | None = None,
        max_consecutive_errors: int = 20,
    ):
        self.spec = spec
        self.options = options or BackendOptions()
        self.model_id = model_identity(spec, self.options)
        self.cache = cache
        # Until the backend is built (the first request that misses the cache), its window is
        # what the options say it will be: a fully cached run never loads a model.
        hint = (
            self.options.concurrency
            if spec.startswith("openai:") and not self.options.adaptive_concurrency
            else self.options.batch_size
        )
        self.executor: Executor = executor or LocalExecutor(lambda: load_backend(spec, self.options), window_hint=hint)
        self.stats = Stats()
        self.max_consecutive_errors = max_consecutive_errors
        #: usage per stage and model (in memory until a command attaches a sink), with the caps
        self.ledger = Ledger()
        #: per million tokens (ModelConfig: --price or the price table); None: cost unknown
        self.price: Price | None = None

    @property
    def backend(self) -> Backend | None:
        """The in-process backend (local executor only): for stages that need the model object."""
        return self.executor.backend

    def stream(self, step: Callable[[Any], str] | None = None) -> Stream:
        """``step(tag)``: the name of the step a request belongs to, so the ledger counts
        ``STAGE:STEP`` rows (generate: bootstrap, classify, instances)."""
        return Stream(self, step)

    def generate(
        self, requests: Sequence[Request], desc: str = "generating", *, by_length: bool = True
    ) -> list[Completion]:
        """Completions for ``requests``, in their order. Misses go out shortest prompt first, so
        engine batches hold prompts of similar length (no engine pads, or forces, long prompts
        beside short ones); ``by_length=False`` keeps the caller's order (a stage that ordered
        its requests itself)."""
        requests = list(requests)
        order = list(range(len(requests)))
        if by_length:
            order.sort(key=lambda i: requests[i].prompt_chars())  # stable: ties keep the stage's order
        results: list[Completion | None] = [None] * len(requests)
        with self.stream() as s:
            s.submit_many([(requests[i], i) for i in order])
            with ui.progress(desc, s.misses, status=True) as bar:
                while s.outstanding:
                    for i, c, hit in s.drain():
                        results[i] = c
                        if not hit:
                            bar.advance(1, tokens=c.completion_tokens)
                    bar.status(f"{s.rate()[1]:,.0f} tok/s · {self.ledger.brief()}")
        return [r for r in results if r is not None]

    def score(self, requests: Sequence[Request], desc: str = "scoring") -> list[float]:
        """Mean log-probability per token of each request's ``continuation`` given its prompt
        (APE's likelihood score), through the cache and the executor like any call; a request
        the backend could not score is ``-inf``."""
        for r in requests:
            if r.continuation is None:
                raise ValueError("LLM.score: every request needs a continuation")
        out = []
        for c in self.generate(requests, desc=desc):
            m = c.mean_logprob if c.ok else None
            if c.ok and c.token_logprobs is None:
                raise BackendError(f"{self.spec}: the backend answered a scoring request without log-probabilities")
            out.append(float("-inf") if m is None else m)
        return out

    def complete(self, request: Request) -> Completion:
        return self.generate([request])[0]

    def close(self) -> None:
        self.executor.close()
        if self.cache is not None:
            self.cache.close()


class Stream:
    """The client side of the executor's window. ``submit`` never blocks; requests wait in a
    priority queue here and go to the executor when ``wait`` is called and there is room, so a
    caller that submits several requests after processing some answers has them dispatched
    together (one engine batch), in priority order."""

    def __init__(self, llm: LLM, step: Callable[[Any], str] | None = None):
        self.llm = llm
        self._step = step
        self._heap: list[tuple[int, int]] = []  # (-priority, rid): FIFO within a priority
        self._pending: dict[int, tuple[Any, str, Request]] = {}  # rid -> (tag, cache key, request)
        self._stage: dict[int, str] = {}  # rid -> its ledger stage
        self._reserved: dict[int, tuple[float, float, float]] = {}  # in flight: worst-case (prompt, completion, cost)
        self._stage_busy: dict[str, list[float]] = {}  # stage -> [requests in flight, since]
        self._retries_seen = 0
        self.budget_blocked = 0  # requests held back by a cap (while others were in flight)
        self._ready: list[tuple[Any, Completion, bool]] = []  # (tag, completion, from cache)
        self._next_rid = 0
        self.in_flight = 0
        self.misses = 0
        self.done = 0  # answers received from the model (cache hits not counted)
        self.tokens = 0
        self._consecutive_errors = 0
        self._busy_since: float | None = None
        self.started = time.perf_counter()
        self._warm = False
        self._sent: dict[int, float] = {}  # rid -> when it went to the executor (request log only)
        log = os.environ.get("INSTRUCTFORGE_REQUEST_LOG")
        self._log = open(log, "a", encoding="utf-8") if log else None  # noqa: SIM115 - closed in close()

    # -- in --------------------------------------------------------------------------------------
    def submit(self, request: Request, tag: Any = None, priority: int = 0) -> None:
        self.submit_many([(request, tag)], priority)

    def submit_many(self, items: Sequence[tuple[Request, Any]], priority: int = 0) -> None:
        llm = self.llm
        keys = [cache_key(llm.model_id, r) for r, _ in items]
        hits = llm.cache.get_many(keys) if llm.cache is not None else {}
        llm.stats.requests += len(items)
        for (req, tag), key in zip(items, keys, strict=True):
            hit = hits.get(key)
            if hit is not None:
                llm.stats.cache_hits += 1
                llm.ledger.hit(self.stage_of(tag), llm.spec, hit.prompt_tokens, hit.completion_tokens, llm.price)
                self._ready.append((tag, hit, True))
                continue
            llm.stats.cache_misses += 1
            self.misses += 1
            rid = self._next_rid
            self._next_rid += 1
            self._pending[rid] = (tag, key, req)
            heapq.heappush(self._heap, (-priority, rid))
        if hits:
            llm.ledger.flush()

    def stage_of(self, tag: Any) -> str:
        stage = self.llm.ledger.stage
        if self._step is None:
            return stage
        step = self._step(tag)
        return f"{stage}:{step}" if stage else step

    # -- state -----------------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Submitted, not yet handed to the executor."""
        return len(self._heap)

    @property
    def outstanding(self) -> int:
        """Everything submitted whose completion has not been returned by ``wait`` yet."""
        return len(self._heap) + self.in_flight + len(self._ready)

    def window(self) -> int:
        return self.llm.executor.window()

    def free_slots(self) -> int:
        """How many more requests the executor could take right now."""
        return max(0, self.window() - self.in_flight - len(self._heap))

    def rate(self) -> tuple[float, float]:
        """(answers/s, completion tokens/s) since the stream opened."""
        dt = max(time.perf_counter() - self.started, 1e-9)
        return self.done / dt, self.tokens / dt

    # -- out -------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if not self._heap:
            return
        ex = self.llm.executor
        if not self._warm:
            ex.warm()  # load the model before the clock of the first request starts
            self._warm = True
        room = ex.window() - self.in_flight
        if room <= 0:
            return
        items: list[tuple[int, Request]] = []
        ledger = self.llm.ledger
        while self._heap and len(items) < room:
            rid = self._heap[0][1]
            req = self._pending[rid][2]
            if ledger.capped and not self._admit(rid, req):
                break
            heapq.heappop(self._heap)
            items.append((rid, req))
        if not items:
            return
        now = time.perf_counter()
        if self._busy_since is None:
            self._busy_since = now
        for rid, _ in items:
            tag = self._pending[rid][0]
            stage = self._stage[rid] = self.stage_of(tag)
            busy = self._stage_busy.setdefault(stage, [0, now])
            if busy[0] == 0:
                busy[1] = now
            busy[0] += 1
        self.in_flight += len(items)
        if self._log is not None:
            now = time.perf_counter()
            self._sent.update((rid, now) for rid, _ in items)
        ex.submit(items)

    def _admit(self, rid: int, req: Request) -> bool:
        """Whether ``req`` may go out under the caps: what was spent, plus the worst case of every
        request in flight, plus its own (prompt estimate + max_tokens) must fit."""
        ledger, price = self.llm.ledger, self.llm.price
        p_est = float(math.ceil(req.prompt_chars() * ledger.tokens_per_char())) + 8  # + chat template
        c_est = float(req.params.max_tokens)
        cost = price.cost(p_est, c_est) if price is not None else 0.0
        rp = sum(r[0] for r in self._reserved.values())
        rc = sum(r[1] for r in self._reserved.values())
        rm = sum(r[2] for r in self._reserved.values())
        if not ledger.fits((rp + p_est, rc + c_est), rm + cost):
            self.budget_blocked = len(self._heap)
            return False
        self._reserved[rid] = (p_est, c_est, cost)
        return True

    def _check_budget(self) -> None:
        """Nothing in flight, nothing to hand back, and the next request does not fit: stop."""
        if self._heap and not self.in_flight and not self._ready and self.llm.ledger.capped:
            pending = len(self._heap)
            msg = self.llm.ledger.stop_message(pending)
            self.cancel()
            raise BudgetExceeded(msg)

    def wait(self, timeout: float | None = None) -> list[tuple[Any, Completion]]:
        """Dispatch what fits, then return what has finished (at least one answer when anything
        is outstanding and ``timeout`` is None; possibly none after ``timeout`` seconds)."""
        return [(tag, c) for tag, c, _ in self.drain(timeout)]

    def results(self) -> Iterator[tuple[Any, Completion]]:
        """Every outstanding completion, as each finishes."""
        while self.outstanding:
            for tag, c, _ in self.drain():
                yield tag, c

    def drain(self, timeout: float | None = None) -> list[tuple[Any, Completion, bool]]:
        """``wait``, with a third field per answer: True if it came from the cache."""
        self._dispatch()
        self._check_budget()
        if self.in_flight:
            self._take(self.llm.executor.poll(0 if self._ready else timeout))
        out, self._ready = self._ready, []
        return out

    def _take(self, got: list[tuple[int, Completion]]) -> None:
        llm, stats = self.llm, self.llm.stats
        puts = []
        stages: list[str] = []
        for rid, comp in got:
            entry = self._pending.pop(rid, None)
            if entry is None:
                continue  # cancelled
            tag, key, req = entry
            self.in_flight -= 1
            self.done += 1
            self._reserved.pop(rid, None)
            stage = self._stage.pop(rid, llm.ledger.stage)
            stages.append(stage)
            llm.ledger.answer(
                stage,
                llm.spec,
                ok=comp.ok,
                prompt_tokens=comp.prompt_tokens,
                completion_tokens=comp.completion_tokens,
                from_server=comp.tokens_from == "server",
                price=llm.price,
                prompt_chars=req.prompt_chars(),
            )
            if self._log is not None:
                self._log.write(
                    json.dumps(
                        {
                            "request": req.to_dict(),
                            "finish_reason": comp.finish_reason,
                            "prompt_tokens": comp.prompt_tokens,
                            "completion_tokens": comp.completion_tokens,
                            "seconds": round(time.perf_counter() - self._sent.pop(rid, 0.0), 4),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            stats.finish_reasons[comp.finish_reason] = stats.finish_reasons.get(comp.finish_reason, 0) + 1
            if comp.ok:
                self._consecutive_errors = 0
                stats.prompt_tokens += comp.prompt_tokens
                stats.completion_tokens += comp.completion_tokens
                self.tokens += comp.completion_tokens
                puts.append((key, llm.model_id, comp))
            else:
                stats.errors += 1
                self._consecutive_errors += 1
                if self._consecutive_errors >= llm.max_consecutive_errors:
                    self.cancel()
                    raise BackendError(f"{self._consecutive_errors} requests in a row failed; last: {comp.error}")
            self._ready.append((tag, comp, False))
        if stages:
            self._account_busy(stages)
            # Before the cache: a kill between the two then leaves spend recorded whose answer is
            # lost (the resume pays for it again, and counts it again: it was paid twice), never
            # an answer cached whose spend is lost (the resume would count it as a free hit).
            llm.ledger.flush()
        if puts and llm.cache is not None:
            llm.cache.put_many(puts)
        if self.in_flight == 0 and self._busy_since is not None:
            stats.model_seconds += time.perf_counter() - self._busy_since
            self._busy_since = None

    def _account_busy(self, answered: Sequence[str]) -> None:
        """Wall time per stage (time with one of its requests in flight) up to now, and the
        backend's retries since the last answers (put on the first answered stage)."""
        now = time.perf_counter()
        ledger, model = self.llm.ledger, self.llm.spec
        for stage in answered:
            if stage in self._stage_busy:
                self._stage_busy[stage][0] -= 1
        retries = int(getattr(self.llm.executor.backend, "retries_done", 0) or 0)
        new_retries, self._retries_seen = retries - self._retries_seen, retries
        for stage, busy in list(self._stage_busy.items()):
            ledger.busy(stage, model, now - busy[1], new_retries if answered and stage == answered[0] else 0)
            busy[1] = now
            if busy[0] <= 0:
                del self._stage_busy[stage]

    def drop_queued(self, pred: Callable[[Any], bool]) -> int:
        """Forget queued requests (not yet sent) whose tag matches; returns how many."""
        keep = [(p, rid) for p, rid in self._heap if not pred(self._pending[rid][0])]
        for _, rid in self._heap:
            if pred(self._pending[rid][0]):
                del self._pending[rid]
                self._stage.pop(rid, None)
        dropped = len(self._heap) - len(keep)
        heapq.heapify(keep)
        self._heap = keep
        return dropped

    def cancel(self) -> None:
        """Drop everything not yet returned (queued here or in flight)."""
        if self.in_flight:
            self.llm.executor.cancel()
        if self._stage_busy:
            self._account_busy([])
            self._stage_busy.clear()
            self.llm.ledger.flush(force=True)
        self._heap.clear()
        self._pending.clear()
        self._stage.clear()
        self._reserved.clear()
        self.in_flight = 0
        if self._busy_since is not None:
            self.llm.stats.model_seconds += time.perf_counter() - self._busy_since
            self._busy_since = None

    def __enter__(self) -> Stream:
        return self

    def close(self) -> None:
        self.cancel()
        self.llm.ledger.flush(force=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_cache() -> CallCache:
    from .backends.model_files import cache_root

    return CallCache(cache_root() / "calls.sqlite")


def open_llm(
    spec: str = "embedded",
    options: BackendOptions | None = None,
    *,
    use_cache: bool = True,
    cache_path: Path | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    ray_actors: int | None = None,
    ray_num_gpus: float = 0.0,
) -> LLM:
    """Build the client the CLI and the Python API use."""
    options = options or BackendOptions()
    cache = (CallCache(cache_path) if cache_path else default_cache()) if use_cache else None
    ex: Executor | None = None
    if executor == "ray":
        from .executors.ray import RayExecutor

        ex = RayExecutor(spec, options, address=ray_address, num_actors=ray_actors, num_gpus=ray_num_gpus)
    return LLM(spec, options, cache=cache, executor=ex)
