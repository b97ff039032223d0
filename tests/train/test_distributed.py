"""finetune and refine in several processes (torchrun, gloo on CPU) against one process.

Fast tests: the rank/world helpers, the global-batch rule, rank 0 as the one writer of the RL
logs, and several processes writing one call cache. Slow tests (the real embedded model, 2 ranks
x 1 thread): SFT and GRPO steps under ``torchrun --nproc_per_node 2 -m instructforge ...``
against ``python -m instructforge ...`` at the same global batch size and seed.

Tolerances. SFT (LoRA dropout 0, so nothing random but the data order, which the seed fixes and
accelerate shards batch by batch): the 2-rank loss of every step equals the 1-process loss to
within 1e-4 relative (measured: ~2e-6, the order of the gradient all-reduce). RL: TRL seeds each
rank's sampler differently on purpose (``set_seed(seed, device_specific=True)``, so that ranks do
not sample the same answers), so the 2-rank completions are not the 1-process ones and per-step
rewards differ. What is checked is what does not depend on the samples: the same steps and
checkpoints, step 1's on-policy GRPO loss is 0 in both (the advantages of a group sum to zero and
the policy equals the reference), and later losses (beta x KL) agree within 0.01.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_rules
from instructforge.core.errors import InputError
from instructforge.train import distributed as dist

ONE_THREAD = {"OMP_NUM_THREADS": "1", "INSTRUCTFORGE_THREADS": "1", "MKL_NUM_THREADS": "1"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


# -- fast ---------------------------------------------------------------------------------------
def test_dist_world_from_env(monkeypatch):
    for v in ("WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE", "PMI_SIZE", "PMI_RANK"):
        monkeypatch.delenv(v, raising=False)
    assert (dist.world_size(), dist.rank(), dist.is_main()) == (1, 0, True)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert (dist.world_size(), dist.rank(), dist.local_world_size(), dist.is_main()) == (4, 3, 2, False)
    monkeypatch.delenv("INSTRUCTFORGE_THREADS", raising=False)
    assert dist.threads_per_rank() == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.setenv("INSTRUCTFORGE_THREADS", "3")
    assert dist.threads_per_rank() == 3


def test_dist_global_batch_is_split(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert dist.per_device(8, 1, "batch_size") == 4
    assert dist.per_device(8, 2, "batch_size") == 2
    with pytest.raises(InputError, match="batch_size = 6 must be a multiple of processes x gradient_accumulation"):
        dist.per_device(6, 2, "batch_size")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert dist.per_device(6, 1, "batch_size") == 6


def test_dist_trainer_args_on_cpu():
    import torch

    args = dist.trainer_args()
    assert args["ddp_find_unused_parameters"] is False
    assert args.get("use_cpu", False) is (not torch.accelerator.is_available())


def test_dist_other_ranks_write_no_reward_log(tmp_path):
    from instructforge.train.refine_logs import RewardLog

    log = RewardLog(tmp_path, "x", None, write=False)
    log.add(1, {"feedback/total": 0.5, "loss": 0.0})
    assert log.rows and not list(tmp_path.iterdir())
    RewardLog(tmp_path, "x", None).add(1, {"feedback/total": 0.5})
    assert (tmp_path / "reward_log.jsonl").is_file()


def _cache_writer(path: str, worker: int, n: int) -> None:
    from instructforge.models.cache import CallCache
    from instructforge.models.types import Completion

    c = CallCache(Path(path))
    for i in range(n):  # half the keys are shared by both writers (the same request asked twice)
        key = f"shared-{i}" if i % 2 else f"w{worker}-{i}"
        c.put_many([(key, "m", Completion(text=f"{worker}:{i}"))])
        assert c.get_many([key])
    c.close()


def test_dist_ranks_share_one_call_cache(tmp_path):
    """Every rank opens the judge's per-call cache (SQLite, WAL) and writes its own completions'
    calls: SQLite's locking serialises the writers, the key is the primary key, so nothing is
    corrupted or recorded twice."""
    import multiprocessing as mp
    import sqlite3

    path, n = tmp_path / "calls.sqlite", 60
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_cache_writer, args=(str(path), w, n)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    db = sqlite3.connect(str(path))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # 2 writers x 30 keys of their own + 30 keys both wrote: one row each
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM calls").fetchone() == (90, 90)


# -- slow: the real thing -----------------------------------------------------------------------
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(nproc: int, *args: str) -> list[str]:
    """The command line: ``python -m instructforge`` for 1, torchrun for more (2 ranks x 1 thread)."""
    if nproc == 1:
        return [sys.executable, "-m", "instructforge", *args]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_port()),
        "-m",
        "instructforge",
        *args,
    ]


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(ONE_THREAD)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    for v in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(v, None)
    return e


def run(nproc: int, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(launch(nproc, *args), capture_output=True, text=True, env=env or _env(), timeout=timeout)
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stderr[-4000:]}"
    return p


def _jsonl(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines()]


def _generates(out: Path) -> None:
    """The saved adapter loads the way --model hf:DIR loads it and generates."""
    import torch

    from instructforge.models.backends.local import load_hf_model

    model, tok = load_hf_model(out)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Name a primary color."}], add_generation_prompt=True, return_tensors="pt"
    )
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    with torch.no_grad():
        new = model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False)[0, ids.shape[1] :]
    assert len(new) == 4 and tok.decode(new, skip_special_tokens=True).strip()


def _adapter(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(out / "adapter_model.safetensors"))


SFT_ROWS = [
    {"instruction": f"Give the opposite of the word {w}.", "input": "", "output": o}
    for w, o in [("cold", "hot"), ("up", "down"), ("big", "small"), ("fast", "slow"), ("light", "dark")]
] + [
    {"instruction": "Name a primary color.", "input": "", "output": "Red."},
    {"instruction": "Add the two numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Say hello in French.", "input": "", "output": "Bonjour."},
]


@pytest.mark.slow
def test_dist_sft_two_ranks_match_one_process(tmp_path, isolated_cache):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(SFT_ROWS))
    flags = ["--max-steps", "3", "--batch-size", "4", "--max-length", "64", "--lr", "2e-3", "--seed", "3"]
    flags += ["--encoding", "fixed", "--set", "lora_dropout=0"]
    outs = {}
    for n in (1, 2):
        outs[n] = tmp_path / f"sft{n}"
        r = run(n, "--quiet", "finetune", "--data", str(data), "--out", str(outs[n]), *flags)
        assert r.stdout.strip() == str(outs[n])  # printed once: rank 0 reports for both
    one, two = (json.loads((outs[n] / "train_summary.json").read_text()) for n in (1, 2))
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert (one["per_device_batch_size"], two["per_device_batch_size"]) == (4, 2)
    assert one["steps"] == two["steps"] == 3
    l1, l2 = _jsonl(outs[1] / "train_log.jsonl"), _jsonl(outs[2] / "train_log.jsonl")
    assert [r["step"] for r in l2] == [1, 2, 3] and [r["epoch"] for r in l1] == [r["epoch"] for r in l2]
    for a, b in zip(l1, l2, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4), (l1, l2)
    assert two["last_loss"] == pytest.approx(one["last_loss"], rel=1e-4)
    # the same training: the two adapters are the same weights to float rounding (relative
    # Frobenius distance per tensor <= 1e-3; measured ~1e-4: Adam magnifies the all-reduce's rounding)
    w1, w2 = _adapter(outs[1]), _adapter(outs[2])
    assert w1.keys() == w2.keys() and any(float(v.abs().sum()) > 0 for k, v in w2.items() if "lora_B" in k)
    for k in w1:
        assert float((w1[k] - w2[k]).norm()) <= 1e-3 * float(w1[k].norm()) + 1e-7, k
    _generates(outs[2])


JUDGE_RULES = [
    {"regex": r"Reply: [A-Ma-m0-9]", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "No": -2.5}]},
    {"default": True, "response": "No", "top_logprobs": [{"No": -0.2, "Yes": -1.9}]},
]


@pytest.mark.slow
def test_dist_rl_two_ranks_kill_resume_and_one_process(tmp_path, isolated_cache):
    """GRPO, 3 steps of 2 prompts x 2 answers: 2 ranks (killed after the first checkpoint,
    resumed with the same launch command) against 1 process."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "refine"))
    from test_rf_train import make_run

    run_dir = make_run(tmp_path / "run")
    rules = write_rules(tmp_path / "judge.jsonl", JUDGE_RULES)
    flags = ["--judge", f"scripted:{rules}", "--steps", "3", "--num-generations", "2", "--max-completion-length", "8"]
    flags += ["--lr", "1e-3", "--seed", "1", "--kl-coef", "0.05"]
    for kv in (
        "prompts_per_step=2",
        "temperature=1.0",
        "policy_demos=0",
        "save_steps=1",
        "save_total_limit=5",
        "lora_dropout=0",
    ):
        flags += ["--set", kv]

    out2 = tmp_path / "rl2"
    args2 = ["--quiet", "refine", str(run_dir), "--out", str(out2), *flags]
    # the kill: as soon as the first checkpoint is complete, the whole launch goes
    # every judge request the scripted backend answers, in either rank, is a line here
    calls = tmp_path / "judge_calls.jsonl"
    env2 = {**_env(), "INSTRUCTFORGE_SCRIPTED_LOG": str(calls)}
    p = subprocess.Popen(
        launch(2, *args2), env=env2, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    ckpts = out2 / "checkpoints"
    t0 = time.monotonic()
    while not list(ckpts.glob("checkpoint-*/trainer_state.json")) and p.poll() is None and time.monotonic() - t0 < 500:
        time.sleep(0.1)
    killed = p.poll() is None
    assert killed, "the 2-rank run ended before its first checkpoint was complete: nothing to kill"
    # as a scheduler preempts a job: SIGTERM to the launcher, which stops its workers
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate(timeout=60)
    assert list(ckpts.glob("checkpoint-*")), (
        f"no checkpoint (exit {p.returncode})\n{err.decode(errors='replace')[-3000:]}"
    )
    assert not (out2 / "refine_summary.json").is_file()
    killed_calls = len(calls.read_text().splitlines()) if calls.is_file() else 0
    run(2, *args2, "--resume", env=env2)
    all_calls = len(calls.read_text().splitlines())
    two = json.loads((out2 / "refine_summary.json").read_text())
    assert two["world_size"] == 2 and two["per_device_completions"] == 2 and two["steps"] == 3
    assert "checkpoint-" in two["resumed_from"]
    # the judge's ledger: each rank keeps its own file (rank 0 usage.json, rank 1 usage.rank1.json;
    # a rank whose completions never parsed asked the judge nothing and has none: at seed 1 that
    # is rank 0), and the out dir's ledger is their sum, each rank's calls counted once
    from instructforge.api.usage import read_usage

    files = [f for f in ("usage.json", "usage.rank1.json") if (out2 / f).is_file()]
    assert files, "no rank kept a ledger"
    ranks = [json.loads((out2 / f).read_text()) for f in files]
    per_rank = [sum(r["usage"]["requests"] for r in d["rows"]) for d in ranks]
    led = read_usage(out2)
    assert led["total"]["requests"] == sum(per_rank), (led["total"], per_rank)
    assert led["total"]["cache_hits"] == sum(sum(r["usage"]["cache_hits"] for r in d["rows"]) for d in ranks)
    # against the backend's own count of the calls of both ranks: none counted twice, and every
    # call of the resumed launch (which ended normally) counted; the killed launch's last second of
    # calls may be missing (a ledger file is saved at most once a second; SIGTERM ends the ranks)
    assert all_calls - killed_calls <= led["total"]["requests"] <= all_calls, (led["total"], killed_calls, all_calls)

    out1 = tmp_path / "rl1"
    run(1, "--quiet", "refine", str(run_dir), "--out", str(out1), *flags)
    one = json.loads((out1 / "refine_summary.json").read_text())
    assert one["world_size"] == 1 and one["per_device_completions"] == 4 and one["steps"] == 3

    l1, l2 = _jsonl(out1 / "reward_log.jsonl"), _jsonl(out2 / "reward_log.jsonl")
    assert [r["step"] for r in l1] == [r["step"] for r in l2] == [1, 2, 3]  # one row a step, by rank 0 only
    assert l1[0]["loss"] == pytest.approx(0, abs=1e-6) and l2[0]["loss"] == pytest.approx(0, abs=1e-6)
    # after step 1 the loss is beta x KL of answers each run sampled itself (the ranks' sampling
    # seeds differ from the single process's), so the runs agree within a bound, not exactly:
    # both small and non-negative (measured: differences 0.000-0.013)
    for a, b in zip(l1, l2, strict=True):
        assert -1e-6 <= a["loss"] <= 0.05 and -1e-6 <= b["loss"] <= 0.05, (l1, l2)
        assert abs(a["loss"] - b["loss"]) <= 0.03, (l1, l2)
        assert {"total", "overall", "kl"} <= set(b)
    _generates(out2)


def test_dist_rl_settings_global_batch_and_vllm_server(tmp_path, monkeypatch):
    """The RL trainer's fields: per-rank completions, and TRL's vLLM server mode when asked (not
    run here: no GPU, no vLLM server)."""
    from instructforge.train.refine import trainer_settings
    from instructforge.train.refine_config import RefineConfig

    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = RefineConfig(prompts_per_step=2, num_generations=4)
    n = dist.per_device(cfg.prompts_per_step * cfg.num_generations, 1, "prompts_per_step x num_generations")
    s = trainer_settings(cfg, tmp_path, n)
    assert s["per_device_train_batch_size"] == 4 and "use_vllm" not in s
    cfg.vllm_server = "http://gpu-node:8000"
    s = trainer_settings(cfg, tmp_path, n)
    assert (s["use_vllm"], s["vllm_mode"], s["vllm_server_base_url"]) == (True, "server", "http://gpu-node:8000")
    with pytest.raises(InputError, match="prompts_per_step x num_generations = 3"):
        dist.per_device(3, 1, "prompts_per_step x num_generations")
