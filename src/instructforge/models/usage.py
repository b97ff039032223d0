"""The usage ledger: what a command's model calls cost, per stage and per model, kept across
resumes; the prices that turn tokens into money; the caps that stop a run before it spends more.

One ``Ledger`` per command (several LLM clients may share it: a model and its judge). Each
``(stage, model)`` row counts:

- ``requests``: requests the model answered (refused ones included); ``cache_hits``: requests
  answered from the per-call cache (not spend), with the tokens (and cost) they saved;
- ``prompt_tokens`` / ``completion_tokens``: the server's ``usage`` when it reports one
  (``server_counted`` answers), else the tokenizer's count (``tokenizer_counted``: a local
  engine's own tokenizer, or the one ``--usage-tokenizer`` names for a server that reports none);
- ``refused`` (error completions) and ``retried`` (retries the backend made), ``wall_seconds``
  (time with a request of the row in flight) and ``cost`` where a price is known.

Persistence goes through a sink with ``load() -> dict`` and ``save(dict)``: the run store's meta
table (``StoreSink``: generate, score) or ``usage.json`` in a command's out dir (``FileSink``:
evaluate, refine, induction evaluate ...). The Stream writes the ledger right before it writes
the answers to the call cache, so a killed run's ledger holds what it paid for and a resumed run
adds to it (its cache hits counted as hits); a kill between those two writes (microseconds)
leaves one batch's spend recorded whose answers are not cached: the resume pays for them again
and counts them again (they were paid twice), never a paid answer counted as a free hit.

Several processes of one command (``refine`` under torchrun / accelerate launch): each rank
keeps a ledger file of its own (rank 0 ``usage.json``, rank r ``usage.rank{r}.json``, api/usage.py)
and ``read_usage`` sums them (``merge``), so every rank's calls count once. A rank's caps count
the other ranks' files as they were when it started (``Ledger.count_elsewhere``), not their
spend since.

Caps (``--max-total-tokens``, ``--budget``) cover the whole ledger, earlier processes included:
a request goes out only if what was spent, plus the worst case of every request in flight
(prompt estimate + ``max_tokens``), plus its own worst case fits; when nothing is in flight and
the next request does not fit, the stream raises ``BudgetExceeded`` (exit 3). Every answer that
came back was handed to the stage and is in the cache, so the same command under a higher cap
(or none) resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import InputError
from ..core.io import atomic_write

#: series points kept per ledger (older ones are thinned to every other point)
MAX_POINTS = 400
#: seconds between two points of the over-time series
POINT_EVERY = 2.0
#: prompt tokens per prompt character before any answer measured the ratio (conservative: 1 per 2)
DEFAULT_TOKENS_PER_CHAR = 0.5


@dataclass(frozen=True)
class Price:
    """Per million tokens, in the ledger's currency."""

    input: float
    output: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def parse_price(value: Any, where: str = "--price") -> Price:
    """``"IN,OUT"`` (or a two-number list) per million tokens.

    >>> parse_price("0.15,0.6")
    Price(input=0.15, output=0.6)
    """
    parts: list[Any]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise InputError(f"{where} {value!r}: expected IN,OUT (prices per million tokens, e.g. 0.15,0.60)")
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        nums = []
    if len(nums) != 2 or any(not math.isfinite(x) or x < 0 for x in nums):
        raise InputError(f"{where} {value!r}: expected IN,OUT (two prices >= 0 per million tokens, e.g. 0.15,0.60)")
    return Price(nums[0], nums[1])


@dataclass
class Usage:
    """The counters of one (stage, model) row; ``cost`` None until a priced answer arrives."""

    requests: int = 0
    cache_hits: int = 0
    saved_prompt_tokens: int = 0
    saved_completion_tokens: int = 0
    saved_cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    server_counted: int = 0
    tokenizer_counted: int = 0
    refused: int = 0
    retried: int = 0
    wall_seconds: float = 0.0
    cost: float | None = None
    unpriced_tokens: int = 0  # spent tokens of answers without a known price

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "cost":
                self.cost = None if a is None and b is None else (a or 0.0) + (b or 0.0)
            else:
                setattr(self, f.name, a + b)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total_tokens"] = self.total_tokens
        d["wall_seconds"] = round(self.wall_seconds, 3)
        d["tokens_per_second"] = round(self.completion_tokens / self.wall_seconds, 2) if self.wall_seconds else None
        d["cost"] = None if self.cost is None else round(self.cost, 6)
        d["saved_cost"] = round(self.saved_cost, 6)
        counted = self.server_counted + self.tokenizer_counted
        d["tokens_from"] = (
            None
            if not counted
            else "server"
            if not self.tokenizer_counted
            else "tokenizer"
            if not self.server_counted
            else "mixed"
        )
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Usage:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Sink(Protocol):
    def load(self) -> dict[str, Any]: ...

    def save(self, data: dict[str, Any]) -> None: ...


class FileSink:
    """``usage.json`` in an out dir (written atomically: never half a file), at most once a
    second while a command runs and at its end."""

    min_interval = 1.0

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise InputError(f"{self.path}: not a usage ledger ({e})") from None
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


class StoreSink:
    """The run store's meta table (key ``usage``): any object with ``get_meta`` / ``set_meta``
    (data.store.RunStore), so a ledger write joins a transaction the stage has open."""

    KEY = "usage"
    min_interval = 0.0  # one small row in the same database as the records: every time

    def __init__(self, store: Any):
        self.store = store

    def load(self) -> dict[str, Any]:
        data = self.store.get_meta(self.KEY, {})
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        self.store.set_meta(self.KEY, data)


def _row_key(stage: str, model: str) -> str:
    return f"{stage}\x1f{model}"


class Ledger:
    """Usage rows of one command (plus what earlier processes saved), its currency and caps."""

    def __init__(
        self,
        *,
        currency: str = "USD",
        max_total_tokens: int | None = None,
        budget: float | None = None,
        sink: Sink | None = None,
        stage: str = "",
    ):
        self.currency = currency
        self.max_total_tokens = max_total_tokens
        self.budget = budget
        self.stage = stage
        self.rows: dict[str, tuple[str, str, Usage]] = {}
        self.series: list[dict[str, Any]] = []
        self.stops: list[dict[str, Any]] = []
        self._sink: Sink | None = None
        self._last_point = 0.0
        self._last_save = 0.0
        self._unsaved = False
        self._dirty = False
        self.prompt_chars = 0  # of answered requests: the prompt-token estimate's ratio
        # (stage, usage) saved by other processes of the same command into ledgers of their own
        # (the other ranks of a torchrun / accelerate launch): counted by the caps, never saved here
        self.elsewhere: list[tuple[str, Usage]] = []
        self.measured_prompt_tokens = 0
        if sink is not None:
            self.attach(sink)

    # -- persistence -------------------------------------------------------------------------
    def attach(self, sink: Sink, stage: str | None = None) -> Ledger:
        """Load what earlier processes saved in ``sink`` (added to, never reset) and save there."""
        data = sink.load()
        for r in data.get("rows", []):
            u = Usage.from_dict(r.get("usage", {}))
            key = _row_key(r["stage"], r["model"])
            if key in self.rows:
                self.rows[key][2].add(u)
            else:
                self.rows[key] = (r["stage"], r["model"], u)
        self.series = list(data.get("series", [])) + self.series
        self.stops = list(data.get("stops", [])) + self.stops
        saved = data.get("currency")
        if saved and saved != self.currency and self.rows_priced():
            raise InputError(
                f"--currency {self.currency}: this ledger's costs are in {saved} (give --currency "
                f"{saved}, or a new out dir)"
            )
        self._sink = sink
        if stage is not None:
            self.stage = stage
        return self

    def count_elsewhere(self, data: Mapping[str, Any]) -> None:
        """Let the caps and the progress line count a ledger another process saved (another
        rank's ``usage.rank{r}.json``); it stays out of this ledger's own file."""
        for r in data.get("rows", []):
            self.elsewhere.append((r["stage"], Usage.from_dict(r.get("usage", {}))))

    def rows_priced(self) -> bool:
        return any(u.cost is not None for _, _, u in self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "rows": [{"stage": s, "model": m, "usage": u.as_dict()} for s, m, u in self.rows.values()],
            "series": self.series,
            "stops": self.stops,
        }

    def flush(self, force: bool = False) -> None:
        now = time.time()
        if self._dirty and (force or now - self._last_point >= POINT_EVERY):
            self._point(now)
        self._unsaved = self._unsaved or self._dirty
        self._dirty = False
        sink = self._sink
        if sink is not None and self._unsaved:
            if force or now - self._last_save >= float(getattr(sink, "min_interval", 0.0)):
                sink.save(self.to_dict())
                self._last_save, self._unsaved = now, False

    def _point(self, now: float) -> None:
        t = self.own()
        self.series.append(
            {
                "time": round(now, 2),
                "stage": self.stage,
                "requests": t.requests,
                "cache_hits": t.cache_hits,
                "prompt_tokens": t.prompt_tokens,
                "completion_tokens": t.completion_tokens,
                "cost": None if t.cost is None else round(t.cost, 6),
            }
        )
        self._last_point = now
        if len(self.series) > MAX_POINTS:
            self.series = self.series[::2] + ([self.series[-1]] if len(self.series) % 2 == 0 else [])

    # -- counting ----------------------------------------------------------------------------
    def row(self, stage: str, model: str) -> Usage:
        key = _row_key(stage, model)
        if key not in self.rows:
            self.rows[key] = (stage, model, Usage())
        return self.rows[key][2]

    def hit(self, stage: str, model: str, prompt_tokens: int, completion_tokens: int, price: Price | None) -> None:
        u = self.row(stage, model)
        u.cache_hits += 1
        u.saved_prompt_tokens += prompt_tokens
        u.saved_completion_tokens += completion_tokens
        if price is not None:
            u.saved_cost += price.cost(prompt_tokens, completion_tokens)
        self._dirty = True

    def answer(
        self,
        stage: str,
        model: str,
        *,
        ok: bool,
        prompt_tokens: int,
        completion_tokens: int,
        from_server: bool,
        price: Price | None,
        prompt_chars: int = 0,
    ) -> None:
        u = self.row(stage, model)
        u.requests += 1
        if not ok:
            u.refused += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens
        if ok:
            if from_server:
                u.server_counted += 1
            else:
                u.tokenizer_counted += 1
        if price is not None:
            u.cost = (u.cost or 0.0) + price.cost(prompt_tokens, completion_tokens)
        else:
            u.unpriced_tokens += prompt_tokens + completion_tokens
        if ok and prompt_tokens and prompt_chars:
            self.prompt_chars += prompt_chars
            self.measured_prompt_tokens += prompt_tokens
        self._dirty = True

    def busy(self, stage: str, model: str, seconds: float, retries: int = 0) -> None:
        u = self.row(stage, model)
        u.wall_seconds += seconds
        u.retried += retries
        if seconds or retries:
            self._dirty = True

    def total(self, rows: Iterable[Usage] | None = None) -> Usage:
        out = Usage()
        for u in rows if rows is not None else (u for _, _, u in self.rows.values()):
            out.add(u)
        return out

    def own(self) -> Usage:
        """The totals of this command's stage (``generate`` and its steps ``generate:...``), earlier
        processes included; what the caps and the progress line count (a run dir's ledger may also
        hold other commands' rows, e.g. ``score``)."""
        st = self.stage
        rows = [(s, u) for s, _, u in self.rows.values()] + self.elsewhere
        return self.total(u for s, u in rows if not st or s == st or s.startswith(st + ":"))

    # -- caps --------------------------------------------------------------------------------
    @property
    def capped(self) -> bool:
        return self.max_total_tokens is not None or self.budget is not None

    def tokens_per_char(self) -> float:
        if self.prompt_chars and self.measured_prompt_tokens:
            return self.measured_prompt_tokens / self.prompt_chars
        return DEFAULT_TOKENS_PER_CHAR

    def fits(self, tokens: tuple[float, float], cost: float) -> bool:
        """Whether spending (the worst case of) ``tokens`` = (prompt, completion) and ``cost``
        more stays within both caps."""
        t = self.own()
        if self.max_total_tokens is not None and t.total_tokens + sum(tokens) > self.max_total_tokens:
            return False
        return not (self.budget is not None and (t.cost or 0.0) + cost > self.budget)

    def stop_message(self, pending: int) -> str:
        t = self.own()
        parts = []
        if self.max_total_tokens is not None:
            over = t.total_tokens - self.max_total_tokens
            parts.append(f"{t.total_tokens:,} of --max-total-tokens {self.max_total_tokens:,} tokens spent")
            if over > 0:
                parts.append(f"overshoot {over:,} tokens (requests in flight)")
        if self.budget is not None:
            cost = t.cost or 0.0
            parts.append(f"{format_cost(cost, self.currency)} of --budget {format_cost(self.budget, self.currency)}")
            if cost > self.budget:
                parts.append(f"overshoot {format_cost(cost - self.budget, self.currency)}")
        self.stops.append(
            {
                "time": round(time.time(), 2),
                "stage": self.stage,
                "total_tokens": t.total_tokens,
                "cost": None if t.cost is None else round(t.cost, 6),
                "max_total_tokens": self.max_total_tokens,
                "budget": self.budget,
                "pending_requests": pending,
            }
        )
        self._dirty = True
        self.flush(force=True)
        return (
            f"budget reached: {'; '.join(parts)}; {pending} requests not sent. Everything answered is kept: "
            "rerun the same command with a higher cap (or none) to continue"
        )

    # -- showing -----------------------------------------------------------------------------
    def brief(self) -> str:
        """Tokens (and cost) so far, for a progress line: ``12,345 of 50,000 tok · $0.0123``."""
        t = self.own()
        text = f"{t.total_tokens:,}" + (f" of {self.max_total_tokens:,}" if self.max_total_tokens else "") + " tok"
        if t.cost is not None:
            text += f" · {format_cost(t.cost, self.currency)}"
            if self.budget is not None:
                text += f" of {format_cost(self.budget, self.currency)}"
        return text

    def summary(self) -> dict[str, Any]:
        return summarize(self.to_dict())


def format_cost(amount: float, currency: str) -> str:
    sign = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency.upper())
    digits = 2 if amount >= 100 else 4
    return f"{sign}{amount:.{digits}f}" if sign else f"{amount:.{digits}f} {currency}"


def merge(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One saved ledger of several (the ranks' files of one out dir): rows with the same stage
    and model summed, every stop kept; the series is the first one's (rank 0: a series is one
    process's cumulative totals, the ranks' do not add up point by point)."""
    if not parts:
        return {}
    rows: dict[str, tuple[str, str, Usage]] = {}
    for data in parts:
        for r in data.get("rows", []):
            key = _row_key(r["stage"], r["model"])
            u = Usage.from_dict(r.get("usage", {}))
            if key in rows:
                rows[key][2].add(u)
            else:
                rows[key] = (r["stage"], r["model"], u)
    return {
        "currency": parts[0].get("currency", "USD"),
        "rows": [{"stage": s, "model": m, "usage": u.as_dict()} for s, m, u in rows.values()],
        "series": list(parts[0].get("series", [])),
        "stops": [st for data in parts for st in data.get("stops", [])],
    }


def summarize(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"total", "stages", "models", "currency", "rows"}`` of a saved ledger (``Ledger.to_dict``);
    ``prefix`` is put before every stage name (an experiment's stage dir)."""
    stages: dict[str, Usage] = {}
    models: dict[str, Usage] = {}
    total = Usage()
    rows = []
    for r in data.get("rows", []):
        u = Usage.from_dict(r.get("usage", {}))
        stage = prefix + r["stage"]
        stages.setdefault(stage, Usage()).add(u)
        models.setdefault(r["model"], Usage()).add(u)
        total.add(u)
        rows.append({"stage": stage, "model": r["model"], **u.as_dict()})
    return {
        "currency": data.get("currency", "USD"),
        "total": total.as_dict(),
        "stages": {k: v.as_dict() for k, v in stages.items()},
        "models": {k: v.as_dict() for k, v in models.items()},
        "rows": rows,
        "series": [{**p, "stage": prefix + str(p.get("stage", ""))} for p in data.get("series", [])],
        "stops": list(data.get("stops", [])),
    }


# -- ledger files of an out dir (api/usage.py: which command keeps which) -------------------------

USAGE_FILE = "usage.json"
RANK_FILES = "usage.rank*.json"


def rank_file(out_dir: Path | str, rank: int) -> Path:
    """Rank ``rank``'s ledger file in ``out_dir``: ``usage.json`` for rank 0, else ``usage.rank{r}.json``."""
    return Path(out_dir) / (USAGE_FILE if rank == 0 else f"usage.rank{rank}.json")


def _ledger_files(out_dir: Path | str) -> list[Path]:
    """The ledger files present in ``out_dir``: ``usage.json`` and every rank's."""
    out_dir = Path(out_dir)
    return [f for f in (out_dir / USAGE_FILE, *sorted(out_dir.glob(RANK_FILES))) if f.is_file()]


def other_ranks(out_dir: Path | str, rank: int) -> list[dict[str, Any]]:
    """The ledgers the other ranks' processes saved in ``out_dir`` (earlier runs included)."""
    return [FileSink(f).load() for f in _ledger_files(out_dir) if f != rank_file(out_dir, rank)]


def dir_ledger(path: Path | str) -> dict[str, Any]:
    """An out dir's saved ledger: ``usage.json`` plus every rank's ``usage.rank{r}.json``
    (several processes of one command), summed; ``{}`` without one."""
    return merge([d for d in (FileSink(f).load() for f in _ledger_files(path)) if d])


def track(stage: str, sink: Any, *llms: Any) -> Ledger:
    """One ledger for every client of a command (a model and its judge): loaded from ``sink``
    (what earlier runs of the command saved), saved there as answers arrive. The first client's
    caps and currency hold for all."""
    live = [llm for llm in llms if llm is not None]
    ledger: Ledger = live[0].ledger
    ledger.attach(sink, stage)
    for llm in live[1:]:
        llm.ledger = ledger
    return ledger
