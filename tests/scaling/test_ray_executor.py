"""Ray executor: the same completions as the local executor; every actor kept busy (a running
and a queued chunk each), every request answered once.

One local Ray instance (2 CPUs) per module: starting Ray costs seconds.
"""

from __future__ import annotations

import pytest

from instructforge.models.backends.base import BackendOptions
from instructforge.models.backends.scripted import ScriptedBackend
from instructforge.models.cache import CallCache
from instructforge.models.client import LLM
from instructforge.models.executors import LocalExecutor
from instructforge.models.types import Request, SamplingParams

ray = pytest.importorskip("ray")

RULES = [
    {"contains": "capital", "response": ["Paris is the capital.", "It is Paris.", "Paris."]},
    {"regex": r"number (\d+)", "response": ["odd", "even", "prime", "zero"]},
    {"contains": "judge", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "No": -2.4}]},
    {"default": True, "response": "one two three four five six seven eight"},
]


@pytest.fixture(scope="module")
def ray_local():
    from instructforge.models.executors.ray import start_local_ray

    start_local_ray(ray, 2)
    yield
    ray.shutdown()


def run_all(ex, reqs: list[Request]) -> dict[int, object]:
    """Submit everything, poll until every id has come back (each exactly once)."""
    ex.submit(list(enumerate(reqs)))
    held = len(ex._in_flight)
    out: dict[int, object] = {}
    while len(out) < len(reqs):
        for rid, comp in ex.poll(30):
            assert rid not in out
            out[rid] = comp
    return out | {"chunks_held_at_once": held}


def _requests() -> list[Request]:
    reqs = []
    for i in range(37):
        p = SamplingParams(
            temperature=0.7,
            max_tokens=3 + i % 5,
            stop=("five",) if i % 3 == 0 else (),
            logprobs=2 if i % 4 == 2 else None,
        )
        text = ["What is the capital of France?", f"Tell me about number {i}", "judge this", "Say words"][i % 4]
        reqs.append(Request.chat(text, params=p, seed=i // 7, sample_index=i % 3))
    return reqs


@pytest.mark.slow
def test_ray_matches_local_executor(tmp_path, ray_local):
    from conftest import write_rules
    from instructforge.models.backends import load_backend
    from instructforge.models.executors.ray import RayExecutor

    rules = write_rules(tmp_path / "rules.jsonl", RULES)
    spec = f"scripted:{rules}"
    opts = BackendOptions(batch_size=5)
    reqs = _requests()
    local = LLM(spec, opts, executor=LocalExecutor(lambda: load_backend(spec, opts), batch_size=5))
    expected = local.generate(reqs)
    ex = RayExecutor(spec, opts, num_actors=2)
    try:
        assert ex.batch_size == 5  # the backend's own batch (--batch-size), as the local executor uses
        assert ex.window() == 2 * 5 * 2  # two actors, each a running and a queued chunk
        got = run_all(ex, reqs)
        assert got.pop("chunks_held_at_once") == 4  # both actors busy, each with one chunk queued
        assert [got[i].to_dict() for i in range(len(reqs))] == [c.to_dict() for c in expected]
        via_ray = LLM(spec, opts, cache=CallCache(tmp_path / "calls.sqlite"), executor=ex).generate(reqs)
    finally:
        ex.close()
    assert [c.to_dict() for c in via_ray] == [c.to_dict() for c in expected]
    assert via_ray[2].top_logprobs == [{"Yes": -0.1, "No": -2.4}]
    # the driver wrote the cache: a second pass answers everything from it, no Ray at all
    again = LLM(spec, opts, cache=CallCache(tmp_path / "calls.sqlite"), executor=RayExecutor(spec, opts))
    assert [c.to_dict() for c in again.generate(reqs)] == [c.to_dict() for c in expected]
    assert again.stats.cache_hits == len(reqs) and again.executor._actors == []


@pytest.mark.slow
def test_ray_actor_builds_backend_errors_reach_driver(tmp_path, ray_local):
    from instructforge.models.executors.ray import RayExecutor

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"response": "x"}\n')
    ex = RayExecutor(f"scripted:{bad}", BackendOptions(), num_actors=1)
    try:
        with pytest.raises(Exception, match="needs contains, regex"):
            run_all(ex, [Request.chat("hi")])
    finally:
        ex.close()


def test_bad_pool_size_is_input_error():
    from instructforge.core.errors import InputError
    from instructforge.models.executors.ray import RayExecutor

    with pytest.raises(InputError):
        RayExecutor("embedded", BackendOptions(), num_actors=0)
    assert ScriptedBackend(RULES).batch_size == 64 and ScriptedBackend(RULES, batch_size=3).batch_size == 3


def test_actors_get_their_thread_share_in_the_options():
    from instructforge.models.executors.ray import actor_options

    opts, share = actor_options(BackendOptions(batch_size=5), cpus=8, actors=3)
    assert (opts.threads, share, opts.batch_size) == (2, 2, 5)
    assert actor_options(BackendOptions(), cpus=2, actors=4)[0].threads == 1  # never zero
    assert actor_options(BackendOptions(threads=4), cpus=2, actors=2) == (BackendOptions(threads=4), 1)
