"""The Ray reaper: a driver that dies (SIGKILL, no cleanup) takes every marked process with it,
even one that ignores SIGTERM; unmarked processes are left alone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instructforge.models.executors import reaper

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="the reaper reads /proc")

DRIVER = """
import os, subprocess, sys, time
from instructforge.models.executors.ray import _Reaper
r = _Reaper(); r.start()
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
kids = [subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True),
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)]
forked = 0
if sys.argv[1] == "fork":  # a child forked without exec keeps the pipe's write end open
    forked = os.fork()
    if forked == 0:
        time.sleep(600)
        os._exit(0)
print(os.environ["INSTRUCTFORGE_RAY_SESSION"], r.proc.pid, forked, *[k.pid for k in kids], flush=True)
if sys.argv[1] == "close":
    sys.stdin.readline()  # the test has seen the marked children: now close the pipe
    r.stop()
    print("stopped", flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], timeout: float = reaper.DEADLINE) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("how", ["kill", "close", "fork"])
def test_reaper_stops_marked_processes(how):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, how], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        marker, reaper_pid, forked, *kids = driver.stdout.readline().split()
        kids, forked = [int(k) for k in kids], int(forked)
        # a child that has just exec'd shows an empty environment until the kernel has laid out
        # its stack (the parent's Popen returns before that): look again for a moment
        deadline = time.monotonic() + 10
        while sorted(reaper.marked_pids(marker, exclude={driver.pid})) != sorted(kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(reaper.marked_pids(marker, exclude={driver.pid})) == sorted(kids)
        assert all(alive(k) for k in kids)
        if how in ("kill", "fork"):
            driver.send_signal(signal.SIGKILL)
        else:
            driver.stdin.write("go\n")
            driver.stdin.flush()
            assert driver.stdout.readline().strip() == "stopped"
        assert not wait_gone(kids), "marked processes outlived the driver"
        assert not wait_gone([int(reaper_pid)])
        assert alive(bystander.pid) and (how != "close" or alive(driver.pid))
    finally:
        if how == "fork" and "forked" in locals() and forked:
            os.kill(forked, signal.SIGKILL)
        for p in (driver, bystander):
            p.kill()
            p.wait()


def test_marker_is_exact():
    # another session's marker (a prefix of ours, or a longer one) is never matched
    env = {**os.environ, reaper.MARKER_VAR: "abc123"}
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env=env)
    try:
        time.sleep(0.2)
        assert p.pid in reaper.marked_pids("abc123", exclude=set())
        assert p.pid not in reaper.marked_pids("abc12", exclude=set())
        assert p.pid not in reaper.marked_pids("abc1234", exclude=set())
    finally:
        p.kill()
        p.wait()


# A Ray agent renames itself (setproctitle), which overwrites the start of the memory that
# /proc/PID/environ shows: the marker can vanish from a process that carried it. CLOBBER does the
# same to the process that runs it (all of its environment block, through /proc/self/mem).
CLOBBER = """
def clobber():
    f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    start, end = int(f[47]), int(f[48])  # env_start, env_end (fields 50 and 51)
    with open("/proc/self/mem", "r+b") as m:
        m.seek(start)
        m.write(bytes(end - start))
"""
RENAMED_LATE = CLOBBER + "import time; time.sleep(2); clobber(); time.sleep(600)"
PARENT = (
    CLOBBER
    + """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1] + "clobber(); import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""
)
DRIVER_RENAMED = """
import os, subprocess, sys, time
from instructforge.models.executors.ray import _Reaper
r = _Reaper(); r.start()
late = subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True)
parent = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[3]], stdout=subprocess.PIPE, text=True)
child = int(parent.stdout.readline())
print(r.proc.pid, late.pid, parent.pid, child, flush=True)
time.sleep(600)
"""


def test_reaper_stops_processes_whose_marker_was_overwritten():
    """Registered before the marker went (late), and a child whose marker went before the
    reaper could see it (its parent is registered): both gone within the deadline."""
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER_RENAMED, RENAMED_LATE, PARENT, CLOBBER], stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        reaper_pid, late, parent, child = (int(x) for x in driver.stdout.readline().split())
        pids = [late, parent, child]
        marker_of = {pid: Path(f"/proc/{pid}/environ").read_bytes() for pid in (parent, child)}
        assert reaper.MARKER_VAR.encode() in marker_of[parent]
        time.sleep(3)  # `late` has been seen by the reaper, then wiped its environment
        for pid in (late, child):
            assert reaper.MARKER_VAR.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
            assert alive(pid)
        driver.send_signal(signal.SIGKILL)
        assert not wait_gone(pids), "processes whose marker was overwritten outlived the driver"
        assert not wait_gone([reaper_pid])
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        driver.kill()
        driver.wait()


def test_reaper_stops_an_orphan_whose_marker_was_overwritten():
    """A child that wiped its marker before any scan, whose parent then dies first (as Ray's
    agents do when the raylet goes down with the driver): registered through its parent while
    that lived, so it is still stopped, though nothing links it to the instance at the end."""
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER_RENAMED, RENAMED_LATE, PARENT, CLOBBER], stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        reaper_pid, late, parent, child = (int(x) for x in driver.stdout.readline().split())
        pids = [late, child]
        time.sleep(2 * reaper.POLL + 1)  # the reaper has scanned with the parent alive
        assert reaper.MARKER_VAR.encode() not in Path(f"/proc/{child}/environ").read_bytes()
        os.kill(parent, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
            assert time.monotonic() < deadline, "the child was not re-parented"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        assert not wait_gone(pids), "an orphan whose marker was overwritten outlived the driver"
        assert not wait_gone([reaper_pid])
    finally:
        for pid in [*pids, *([parent] if "parent" in locals() else [])]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        driver.kill()
        driver.wait()
