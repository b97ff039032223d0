"""Stops every process of a private local Ray instance once its driver is gone, however it went.

Ray ties its head processes to the driver that started them, but not everything below them: on
Linux a ``SIGKILL``ed driver regularly leaves ``ray::RuntimeEnvAgent`` (and sometimes actor
workers) running for minutes or for good. So when ``RayExecutor`` starts a local instance it
first puts a unique marker into the environment that every Ray process inherits, then starts
this reaper holding the read end of a pipe whose only writer is the driver. End of file on that
pipe means the driver closed it (normal exit, after ``ray.shutdown()``) or died; the reaper also
watches the driver's pid (a child forked without exec keeps a copy of the write end). Then it
terminates every process that carries the marker: SIGTERM, a short wait, SIGKILL, and scans
again until two scans in a row find nothing (at most a minute).

Linux only (it reads ``/proc``); elsewhere ``RayExecutor`` does not start it. It imports nothing
from instructforge beyond this file, so it starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

MARKER_VAR = "INSTRUCTFORGE_RAY_SESSION"


def marked_pids(marker: str, exclude: set[int]) -> list[int]:
    """Processes whose environment holds ``MARKER_VAR=marker``."""
    needle = f"{MARKER_VAR}={marker}\0".encode()
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in exclude:
            continue
        try:
            if needle in (p / "environ").read_bytes():
                found.append(int(p.name))
        except OSError:  # gone, or not ours to read
            pass
    return found


def sweep(marker: str, exclude: set[int], term_grace: float = 5.0) -> list[int]:
    """SIGTERM every marked process, SIGKILL what is left after ``term_grace`` seconds.
    Returns the pids the scan found (empty: nothing carried the marker)."""
    pids = marked_pids(marker, exclude)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + term_grace
    while (left := marked_pids(marker, exclude)) and time.monotonic() < deadline:
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
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def wait_for_driver(driver: int, poll: float = 0.5) -> None:
    """Return when the pipe reaches end of file or the driver process is gone. The pid check
    covers a child the driver forked without exec: it holds a copy of the pipe's write end."""
    import select

    born = start_time(driver)
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], poll)
        if ready and not os.read(fd, 65536):  # nothing is ever written: readable = EOF
            return
        if born is None or start_time(driver) != born:
            return


def main(argv: list[str]) -> int:
    """``python reaper.py MARKER DRIVER_PID`` (run as a script) with the pipe on stdin."""
    marker, driver = argv[0], int(argv[1])
    wait_for_driver(driver)
    exclude = {os.getpid(), driver}
    # Sweep until two scans in a row find nothing: a process that was being spawned while the
    # first sweep ran is caught by the next one.
    deadline, quiet = time.monotonic() + 60, 0
    while quiet < 2 and time.monotonic() < deadline:
        quiet = 0 if sweep(marker, exclude) else quiet + 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
