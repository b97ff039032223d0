"""Stops every process of a private local Ray instance once its driver is gone, however it went.

Ray ties its head processes to the driver that started them, but not everything below them: on
Linux a ``SIGKILL``ed driver regularly leaves ``ray::DashboardAgent`` and ``ray::RuntimeEnvAgent``
(and sometimes actor workers) running for minutes or for good. So when ``RayExecutor`` starts a
local instance it first puts a unique marker into the environment that every Ray process
inherits, then starts this reaper holding the read end of a pipe whose only writer is the driver.
End of file on that pipe means the driver closed it (normal exit, after ``ray.shutdown()``) or
died; the reaper also watches the driver's pid (a child forked without exec keeps a copy of the
write end). Then it terminates every process of the instance: SIGTERM, a short wait, SIGKILL, and
scans again until two scans in a row find nothing.

The marker alone is not enough: ``/proc/PID/environ`` is the memory the environment was first
written to, and Ray's agents rename themselves with setproctitle, which overwrites the start of
that memory, so the marker may vanish from a process that carried it (seen: both agents of a
killed driver survived because of this). So while the driver lives the reaper keeps a register
of every process it has seen with the marker (pid and start time, so a reused pid is not taken
for it) and of every child of a registered process (an agent can rename itself before any scan,
and its parent, the raylet, dies with the driver: an orphan nothing links to the instance at the
end), and at the end it stops the registered ones still alive, the marked ones, and every
descendant of either. The driver starts Ray only once the reaper says it watches.

Deadline: every process of the instance is gone within ``DEADLINE`` seconds of the driver's end
(``SIGKILL`` after ``TERM_GRACE``; tests/scaling assert it under load). Linux only (it reads
``/proc``); elsewhere ``RayExecutor`` does not start it. It imports nothing from instructforge
beyond this file, so it starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

MARKER_VAR = "INSTRUCTFORGE_RAY_SESSION"
LOG_VAR = "INSTRUCTFORGE_REAPER_LOG"  # a file the reaper appends what it saw and did to
POLL = 0.5  # seconds between checks of the driver (and register updates)
TERM_GRACE = 5.0  # seconds from SIGTERM to SIGKILL
DEADLINE = 30.0  # seconds from the driver's end until no process of the instance is left


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of ``pid`` from /proc/PID/stat; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if len(fields) < 20:
        return None
    return fields[0], int(fields[1]), fields[19]


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _has_marker(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return False


def marked_pids(marker: str, exclude: set[int]) -> list[int]:
    """Processes whose environment holds ``MARKER_VAR=marker``."""
    needle = f"{MARKER_VAR}={marker}\0".encode()
    return [pid for pid in _pids() if pid not in exclude and _has_marker(pid, needle)]


class Register:
    """The processes of one Ray instance: every pid seen with the marker (keyed with its start
    time) and, at the end, the descendants of those still alive."""

    def __init__(self, marker: str, exclude: set[int]):
        self.needle = f"{MARKER_VAR}={marker}\0".encode()
        self.exclude = exclude
        self.known: dict[int, str] = {}  # pid -> start time, of marked processes
        self._looked: set[tuple[int, str]] = set()  # (pid, start) of live processes already read

    def update(self) -> dict[int, tuple[str, int, str]]:
        """Read the process table; remember every new process that carries the marker. Returns
        the table (pid -> (state, parent, start))."""
        table = {pid: st for pid in _pids() if pid not in self.exclude and (st := _stat(pid)) is not None}
        looked = set()
        for pid, (state, _, start) in table.items():
            if state in ("Z", "X"):
                continue
            looked.add((pid, start))
            if (pid, start) not in self._looked and _has_marker(pid, self.needle):
                self.known[pid] = start
        self._looked = looked  # only processes still alive: the set does not grow with the run
        # Children of registered processes are registered too, while their parent still lives:
        # an agent that renames itself before a scan sees its marker, and whose parent (the
        # raylet) dies with the driver, is then still known though nothing links it to us.
        children: dict[int, list[int]] = {}
        for pid, (state, parent, _) in table.items():
            if state not in ("Z", "X"):
                children.setdefault(parent, []).append(pid)
        todo = [pid for pid, start in self.known.items() if pid in table and table[pid][2] == start]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in self.known or self.known[child] != table[child][2]:
                    self.known[child] = table[child][2]
                    todo.append(child)
        return table

    def targets(self) -> list[int]:
        """Live processes of the instance: registered (same start time) after a fresh
        ``update``, which has also registered every live descendant of a registered process (a
        child renamed before a scan saw its marker still has its parent)."""
        table = self.update()
        return sorted(
            pid
            for pid, start in self.known.items()
            if pid in table and table[pid][0] not in ("Z", "X") and table[pid][2] == start
        )


def sweep(register: Register, term_grace: float = TERM_GRACE) -> list[int]:
    """SIGTERM every process of the instance, SIGKILL what is left after ``term_grace`` seconds.
    Returns the pids the scan found (empty: nothing was left)."""
    pids = register.targets()
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + term_grace
    while (left := register.targets()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), None if it is gone or
    a zombie (dead, not yet reaped by its parent): tells the driver from a later process that
    reuses its pid."""
    st = _stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return None
    return st[2]


def wait_for_driver(driver: int, register: Register | None = None, poll: float = POLL) -> None:
    """Return when the pipe reaches end of file or the driver process is gone, updating the
    register on every poll. The pid check covers a child the driver forked without exec: it
    holds a copy of the pipe's write end."""
    import select

    born = start_time(driver)
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], poll)
        if ready and not os.read(fd, 65536):  # nothing is ever written: readable = EOF
            return
        if born is None or start_time(driver) != born:
            return
        if register is not None:
            register.update()


def _log(message: str) -> None:
    """One line to the file named by ``LOG_VAR``, if set (the tests read it when a sweep fails)."""
    path = os.environ.get(LOG_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.3f} {message}\n")


def main(argv: list[str]) -> int:
    """``python reaper.py MARKER DRIVER_PID`` (run as a script) with the pipe on stdin. Writes one
    line to stdout once it watches (the driver waits for it before it starts Ray)."""
    marker, driver = argv[0], int(argv[1])
    register = Register(marker, exclude={os.getpid(), driver})
    register.update()
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    except OSError:  # the driver stopped listening: nothing to say
        pass
    wait_for_driver(driver, register)
    _log(f"driver {driver} gone; registered {sorted(register.known)}")
    # Sweep until two scans in a row find nothing: a process that was being spawned while the
    # first sweep ran is caught by the next one. The last sweep starts early enough that its
    # SIGKILL lands inside the deadline.
    deadline, quiet = time.monotonic() + DEADLINE - TERM_GRACE - 2 * POLL, 0
    while quiet < 2 and time.monotonic() < deadline:
        found = sweep(register)
        quiet = 0 if found else quiet + 1
        if found:
            _log(f"swept {found}")
        time.sleep(POLL)
    _log("done" if quiet >= 2 else f"deadline reached; left {register.targets()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
