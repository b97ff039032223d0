"""Terminal output: progress bars, summary tables, quiet mode. Everything goes to stderr,
so stdout stays clean for results (``ask`` prints the completion, ``--json`` prints JSON)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

console = Console(stderr=True)
_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    _state["quiet"] = quiet


def is_quiet() -> bool:
    return bool(_state["quiet"])


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")


def info(msg: str) -> None:
    if not is_quiet():
        console.print(msg, highlight=False)


class TokensPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        tokens = task.fields.get("tokens", 0)
        elapsed = task.elapsed or 0.0
        if not tokens or elapsed <= 0:
            return Text("")
        return Text(f"{tokens / elapsed:,.0f} tok/s", style="cyan")


class Bar:
    """A progress bar handle; a no-op in quiet mode."""

    def __init__(self, progress: Progress | None, task_id: Any):
        self._p, self._id, self.tokens = progress, task_id, 0

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        self.tokens += tokens
        if self._p is not None:
            self._p.update(self._id, advance=n, tokens=self.tokens)

    def status(self, text: str) -> None:
        """The bar's status text (``progress(..., status=True)``), e.g. requests in flight."""
        if self._p is not None:
            self._p.update(self._id, status=text)


#: seconds between progress lines when stderr is not a terminal
LINE_INTERVAL = float(os.environ.get("INSTRUCTFORGE_PROGRESS_INTERVAL", "10"))


class LineBar(Bar):
    """A progress bar for a stderr that is not a terminal: one plain line every
    ``LINE_INTERVAL`` seconds (done/total, the status text or tok/s, elapsed), and one at the end."""

    def __init__(self, desc: str, total: int | None):
        super().__init__(None, None)
        self.desc, self.total, self.done, self.text = desc, total, 0, ""
        self.start = time.monotonic()
        self._stop = threading.Event()

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        self.tokens += tokens
        self.done += n

    def status(self, text: str) -> None:
        self.text = text

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        total = f"/{self.total}" if self.total is not None else ""
        rate = self.text or (f"{self.tokens / elapsed:,.0f} tok/s" if self.tokens and elapsed > 0 else "")
        return f"{self.desc}: {self.done}{total}" + (f" · {rate}" if rate else "") + f" · {elapsed:,.0f} s"

    @contextmanager
    def ticking(self) -> Iterator[None]:
        def tick() -> None:
            while not self._stop.wait(LINE_INTERVAL):
                console.print(self.line(), highlight=False, markup=False)

        t = threading.Thread(target=tick, name=f"progress-{self.desc}", daemon=True)
        t.start()
        try:
            yield
        finally:
            self._stop.set()
            t.join(timeout=1)
            console.print(self.line() + " · done", highlight=False, markup=False)


@contextmanager
def progress(desc: str, total: int | None, *, status: bool = False) -> Iterator[Bar]:
    """A bar with done/total, tokens/s, elapsed time and ETA; ``status`` adds a text field the
    caller sets with ``Bar.status`` (a pipeline shows requests in flight, req/s, tok/s)."""
    if is_quiet() or total == 0 or not console.is_terminal and total is not None and total <= 1:
        yield Bar(None, None)
        return
    if not console.is_terminal:  # a CI log, nohup, | tee: a plain line every ~10 s instead of nothing
        bar = LineBar(desc, total)
        with bar.ticking():
            yield bar
        return
    cols: list[ProgressColumn] = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    cols += [TextColumn("{task.fields[status]}")] if status else [TokensPerSecond()]
    cols += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*cols, console=console, transient=False, disable=is_quiet()) as p:
        tid = p.add_task(desc, total=total, tokens=0, status="")
        yield Bar(p, tid)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    return t


def show(t: Table) -> None:
    if not is_quiet():
        console.print(t)


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
