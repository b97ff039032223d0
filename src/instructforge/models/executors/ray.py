"""Ray executor: the same model calls, spread over a pool of Ray actors.

Not a paper component (the papers ran on an API); it decides *where* generation runs. Each
actor builds its own backend from ``(spec, BackendOptions)`` - the embedded model or an
``hf:DIR`` on CPU nodes, ``vllm:DIR`` on GPU nodes - and answers chunks of up to
``batch_size`` requests. Streaming: each actor holds one chunk running and one queued, so it
never waits for the driver; a chunk is cut from whatever the client has submitted the moment
an actor has room, and its answers are returned as soon as it finishes. The driver stays the
only writer into the call cache and the run store, so killing it loses at most the chunks in
flight and a resumed run pays for nothing twice.

A chunk's members depend on timing here, so a backend whose sampled output depends on its
batch mates (ctranslate2, see engine_ct2.py) can answer a sampled request differently than
under the local executor; the cache keeps whichever answer came first. Stages never import
this module: ``open_llm(..., executor="ray")`` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from ...core.errors import InputError
from ..backends import BackendOptions, load_backend
from ..backends.base import Backend
from ..types import Completion, Request
from . import Item, Result, fatal, reaper

#: chunks an actor holds at once: one running, one queued behind it
CHUNKS_PER_ACTOR = 2
READY_TIMEOUT = 20.0  # seconds the driver waits for the reaper to watch before starting Ray

#: object store for a local instance: chunks of requests/completions are small
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'ray>=2.40'") from None
    return ray


class _Reaper:
    """The driver's end of executors/reaper.py: every Ray process started after ``start()``
    inherits a unique marker, and a reaper process kills them all once the driver closes its
    pipe (``stop()``) or dies. Linux only; a no-op elsewhere."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._fd: int | None = None

    def start(self) -> None:
        if not os.path.isdir("/proc"):
            return
        marker = uuid.uuid4().hex
        read_fd, self._fd = os.pipe()  # non-inheritable: Ray's processes never hold the write end
        env = {k: v for k, v in os.environ.items() if k != reaper.MARKER_VAR}
        self.proc = subprocess.Popen(
            [sys.executable, reaper.__file__, marker, str(os.getpid())],
            stdin=read_fd,
            env=env,
            start_new_session=True,  # a Ctrl-C to the driver spares it
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_fd)
        os.environ[reaper.MARKER_VAR] = marker
        # Start Ray only once the reaper watches: on a loaded machine a Python start can take
        # longer than Ray's agents take to spawn and rename themselves (hiding the marker).
        assert self.proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            select.select([self.proc.stdout], [], [], READY_TIMEOUT)
        self.proc.stdout.close()

    def stop(self, timeout: float = reaper.DEADLINE) -> None:
        """Close the pipe and wait for the sweep, so nothing of Ray outlives ``close()``."""
        os.environ.pop(reaper.MARKER_VAR, None)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
            self.proc = None


def start_local_ray(ray: Any, cpus: int, attempts: int = 3) -> None:
    """A private local instance. Ray waits a fixed 30 s for its raylet: on a saturated
    machine that can run out, so a failed start is shut down and tried again."""
    for attempt in range(attempts):
        try:
            ray.init(
                num_cpus=cpus,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                configure_logging=False,
            )
            return
        except Exception as e:
            if "timed out during startup" not in str(e) or attempt == attempts - 1:
                raise
            ray.shutdown()


def actor_options(options: BackendOptions, cpus: int, actors: int) -> tuple[BackendOptions, int]:
    """(the options each actor builds its backend with, the CPUs a local actor reserves).

    The actors split the cores among them (one engine thread per core, never more threads than
    cores): each engine gets its slice as ``BackendOptions.threads``, unless the caller set a
    thread count there.
    """
    share = max(1, cpus // actors)
    return dataclasses.replace(options, threads=options.threads or share), share


class _BackendActor:
    """Holds one backend for its lifetime; ``generate`` is ``Backend.generate`` remotely."""

    def __init__(self, spec: str, options: BackendOptions):
        self.backend = load_backend(spec, options)

    def generate(self, requests: list[Request]) -> list[Completion]:
        return self.backend.generate(requests)

    def batch_size(self) -> int:
        return self.backend.batch_size


class RayExecutor:
    """Actor pool over any backend. ``address``: a running cluster (``ray start --head``);
    None starts a private local instance. ``num_actors``: default one per CPU (or, with
    ``num_gpus`` > 0, as many as the cluster's GPUs allow). ``num_gpus``: GPUs per actor."""

    def __init__(
        self,
        spec: str,
        options: BackendOptions | None = None,
        address: str | None = None,
        num_actors: int | None = None,
        num_gpus: float = 0.0,
    ):
        if num_actors is not None and num_actors < 1:
            raise InputError(f"--ray-actors must be >= 1, got {num_actors}")
        if num_gpus < 0:
            raise InputError(f"--num-gpus must be >= 0, got {num_gpus}")
        self.spec = spec
        self.options = options or BackendOptions()
        self.address = address
        self.num_gpus = float(num_gpus)
        self._requested_actors = num_actors
        self._actors: list[Any] = []
        self._started_ray = False
        self._reaper = _Reaper()
        self._batch_size: int | None = None
        self._todo: deque[Item] = deque()
        self._in_flight: dict[Any, tuple[Any, list[int]]] = {}  # ref -> (actor, ids)
        self._load: dict[int, int] = {}  # id(actor) -> chunks it holds

    # -- pool ---------------------------------------------------------------------------
    def _ensure_pool(self) -> list[Any]:
        """Start Ray and the actors on first use: a fully cached run never starts Ray."""
        if self._actors:
            return self._actors
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                self._reaper.start()
                start_local_ray(ray, max(os.cpu_count() or 1, self._requested_actors or 1))
            self._started_ray = True
        resources = ray.cluster_resources()
        n = self._requested_actors
        if n is None:
            if self.num_gpus > 0:
                n = max(1, int(resources.get("GPU", 0) // self.num_gpus))
            else:
                n = max(1, int(resources.get("CPU", 1)))
        options, share = actor_options(self.options, int(resources.get("CPU", 1)), n)
        actor_cls = ray.remote(_BackendActor)
        self._actors = [
            actor_cls.options(
                num_cpus=1 if self.address else share,
                num_gpus=self.num_gpus,
                max_restarts=2,  # an actor that dies is rebuilt and its chunk retried
                max_task_retries=2,
            ).remote(self.spec, options)
            for _ in range(n)
        ]
        return self._actors

    @property
    def num_actors(self) -> int:
        return len(self._ensure_pool())

    @property
    def batch_size(self) -> int:
        """The backend's own preferred batch, as the local executor uses it (same chunks)."""
        if self._batch_size is None:
            ray = _import_ray()
            self._batch_size = max(1, int(ray.get(self._ensure_pool()[0].batch_size.remote())))
        return self._batch_size

    @property
    def backend(self) -> Backend | None:
        return None  # each actor holds its own

    def warm(self) -> None:
        self._ensure_pool()

    def window(self) -> int:
        return self.num_actors * self.batch_size * CHUNKS_PER_ACTOR

    def streams(self) -> bool:
        return False  # answers come back a chunk at a time

    def submit(self, items: Sequence[Item]) -> None:
        self._todo.extend(items)
        self._dispatch()

    def _dispatch(self) -> None:
        actors = self._ensure_pool()
        bs = self.batch_size
        for actor in sorted(actors, key=lambda a: self._load.get(id(a), 0)):
            while self._todo and self._load.get(id(actor), 0) < CHUNKS_PER_ACTOR:
                chunk = [self._todo.popleft() for _ in range(min(bs, len(self._todo)))]
                ref = actor.generate.remote([r for _, r in chunk])
                self._in_flight[ref] = (actor, [rid for rid, _ in chunk])
                self._load[id(actor)] = self._load.get(id(actor), 0) + 1

    def poll(self, timeout: float | None) -> list[Result]:
        if not self._in_flight:
            return []
        ray = _import_ray()
        refs = list(self._in_flight)
        done, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if done:  # and whatever else has finished by now
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        out: list[Result] = []
        for ref in done:
            actor, ids = self._in_flight.pop(ref)
            self._load[id(actor)] -= 1
            try:
                comps: list[Completion] = ray.get(ref)
            except Exception as e:
                raise fatal(getattr(e, "cause", None) or e, "ray") from e
            out.extend(zip(ids, comps, strict=True))
        self._dispatch()
        return out

    def cancel(self) -> None:
        self._todo.clear()
        if self._in_flight:
            ray = _import_ray()
            for ref in self._in_flight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
        self._in_flight.clear()
        self._load.clear()

    def close(self) -> None:
        if not self._actors and not self._started_ray:
            return
        self.cancel()
        ray = _import_ray()
        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        self._reaper.stop()
