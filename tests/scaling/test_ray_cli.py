"""``instructforge generate --executor ray`` with the scripted backend: the same dataset as the
local executor, and a driver killed mid-run then resumed under Ray loses and duplicates nothing.

Each CLI run starts its own local Ray instance (as a user's would), so these tests are slow.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instructforge.models.executors import reaper

pytest.importorskip("ray")
_spec = importlib.util.spec_from_file_location(
    "scaling_si_helpers", Path(__file__).parents[1] / "selfinstruct" / "si_helpers.py"
)
si = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(si)

CLI = [sys.executable, "-m", "instructforge.cli"]
RAY = ["--executor", "ray", "--ray-actors", "2"]


def snapshot(run: Path) -> dict:
    return {kind: si.records(run, kind) for kind in ("seed", "candidate", "task", "instance_rejection")}


def run_ray_cli(*args: str, env: dict) -> None:
    """A CLI run under Ray. Ray waits a fixed 30 s for its raylet (and the executor tries three
    times): on a saturated shared machine even that can fail, which says nothing about our code."""
    p = si.run_cli(*args, env=env)
    if p.returncode != 0 and "timed out during startup" in p.stderr:
        pytest.skip("Ray could not start a local node on this overloaded machine")
    assert p.returncode == 0, p.stderr[-3000:]


def procs_with(marker: str) -> list[int]:
    """Processes whose environment mentions marker (our tmp dir): Ray workers included."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                if marker.encode() in (p / "environ").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def describe(pid: int) -> str:
    """pid, parent, state, whether it still carries the reaper's marker, and its command line."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        marked = reaper.MARKER_VAR.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except (OSError, IndexError):
        return f"{pid} (gone)"
    return f"{pid} ppid={stat[1]} state={stat[0]} marked={marked} {cmd[:160]}"


def no_leftovers(marker: str, grace: float = reaper.DEADLINE) -> list[str]:
    """What is still alive ``grace`` seconds from now (the reaper's documented deadline), each
    described (see ``describe``)."""
    deadline = time.time() + grace
    while (left := procs_with(marker)) and time.time() < deadline:
        time.sleep(1)
    described = [describe(pid) for pid in left]
    for pid in left:  # never leave runaways behind, even when the test fails
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return described


@pytest.mark.slow
def test_generate_ray_matches_local_and_resumes_after_kill(tmp_path):
    seeds, rules, cfg = si.setup_run_files(tmp_path)

    def args(out: Path, *extra: str) -> list[str]:
        return [*si.generate_args(seeds, rules, cfg, out, n=5), *extra]

    local_env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "c-local")}
    si.run_cli(*args(tmp_path / "local"), env=local_env, check=True)
    run_ray_cli(*args(tmp_path / "ray", *RAY), env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "c-ray")})
    assert snapshot(tmp_path / "ray") == snapshot(tmp_path / "local")
    for run in ("local", "ray"):
        si.run_cli(
            "export", str(tmp_path / run), "--format", "alpaca", "--out", str(tmp_path / f"{run}.json"), check=True
        )
    assert (tmp_path / "ray.json").read_text() == (tmp_path / "local.json").read_text()

    # Kill the driver once Ray has answered some requests, then resume under Ray.
    out = tmp_path / "killed"
    env = {
        **os.environ,
        "INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "c-kill"),
        "INSTRUCTFORGE_SCRIPTED_LOG": str(tmp_path / "kill-log.jsonl"),
        reaper.LOG_VAR: str(tmp_path / "reaper.log"),
    }
    p = subprocess.Popen(CLI + args(out, *RAY), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    log = tmp_path / "kill-log.jsonl"
    while p.poll() is None and time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    killed_mid_run = p.poll() is None
    p.kill()
    p.wait()
    left = no_leftovers(str(tmp_path / "c-kill"))
    seen = (tmp_path / "reaper.log").read_text() if (tmp_path / "reaper.log").exists() else "(no reaper log)"
    assert not left, f"Ray processes outlived the killed driver: {left}; the reaper's log:\n{seen}"
    run_ray_cli(*args(out, *RAY), env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "c-kill")})
    assert snapshot(out) == snapshot(tmp_path / "local")
    si.run_cli("export", str(out), "--format", "alpaca", "--out", str(tmp_path / "k.json"), check=True)
    assert (tmp_path / "k.json").read_text() == (tmp_path / "local.json").read_text()
    assert killed_mid_run, "the run finished before the kill: nothing was interrupted"
    # after a normal exit close() waits for the reaper's sweep: nothing is left at all
    assert not no_leftovers(str(tmp_path), grace=0)
