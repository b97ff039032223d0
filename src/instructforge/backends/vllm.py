"""``vllm:DIR``: offline vLLM on a GPU, one ``LLM.generate`` call per batch.

Not a paper component: the fast path for GPU machines and Ray GPU clusters (architecture.md,
"executors"). vLLM is imported lazily; without it the spec is an InputError.

Every SamplingParams field maps natively: temperature (0 = greedy), top_p, max_tokens, stop,
per-request ``seed``, OpenAI presence/frequency penalties (additive, exact), HF
repetition_penalty, and ``logprobs`` (top-N per generated token). Chat requests go through
the model's chat template (the same ``render_prompt`` as the local backends) and are
tokenized here without extra special tokens, so a prompt reaches vLLM exactly as it reaches
the CPU engines. A LoRA adapter dir (``adapter_config.json``) runs on its base model through
vLLM's LoRA support.

Options (``BackendOptions.extra``): ``gpu_memory_utilization`` (default 0.85),
``max_model_len`` (default: the model's), ``dtype`` (default "auto"). The batch handed to
vLLM is ``max(--batch-size, 256)`` requests: vLLM schedules them itself (continuous batching),
and a bigger batch keeps the GPU busy; each batch is written to the cache when it finishes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Completion, Request
from .base import Backend, BackendOptions
from .engines import request_seed

MIN_BATCH = 256


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise InputError("vllm is not installed (pip install vllm; needs a CUDA GPU)") from None
    return vllm


def vllm_params(vllm: Any, req: Request) -> Any:
    """One request's vllm.SamplingParams (seeded per request: batch mates do not matter)."""
    p = req.params
    kw: dict[str, Any] = {
        "temperature": max(0.0, p.temperature),
        "top_p": p.top_p if p.temperature > 0 else 1.0,
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

    def __init__(self, path: str, options: BackendOptions | None = None):
        options = options or BackendOptions()
        d = Path(path).expanduser()
        if not d.is_dir():
            raise InputError(f"{d}: model directory not found")
        adapter = d / "adapter_config.json"
        if not (d / "config.json").is_file() and not adapter.is_file():
            raise InputError(f"{d}: not a transformers model dir (no config.json or adapter_config.json)")
        vllm = _import_vllm()
        from .model_files import dir_digest

        self._vllm = vllm
        self.path = d
        self._model_id = f"vllm:{d.resolve()}@{dir_digest(d)[:16]}"
        self.batch_size = max(options.batch_size, MIN_BATCH)
        extra = options.extra or {}
        kw: dict[str, Any] = {
            "gpu_memory_utilization": float(extra.get("gpu_memory_utilization", 0.85)),
            "dtype": extra.get("dtype", "auto"),
            "seed": 0,
        }
        if extra.get("max_model_len"):
            kw["max_model_len"] = int(extra["max_model_len"])
        self._lora = None
        model = d
        if adapter.is_file():
            from .model_files import embedded_model_dir

            cfg = json.loads(adapter.read_text())
            base = cfg.get("base_model_name_or_path") or "embedded"
            model = embedded_model_dir() if base == "embedded" else Path(base)
            if not model.is_dir():
                raise InputError(f"{adapter}: base model {base!r} is not a local dir")
            kw.update(enable_lora=True, max_lora_rank=max(8, int(cfg.get("r", 16))))
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest("adapter", 1, str(d))
        self.llm = vllm.LLM(model=str(model), **kw)
        self.tokenizer = self.llm.get_tokenizer()

    @property
    def model_id(self) -> str:
        return self._model_id

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        from .local import render_prompt

        prompts = [
            {"prompt_token_ids": self.tokenizer.encode(render_prompt(self.tokenizer, r), add_special_tokens=False)}
            for r in requests
        ]
        params = [vllm_params(self._vllm, r) for r in requests]
        outs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora)
        return [self._completion(o, r) for o, r in zip(outs, requests, strict=True)]

    def _completion(self, out: Any, req: Request) -> Completion:
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

    def close(self) -> None:
        self.llm = None
