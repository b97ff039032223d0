"""Local backends: the embedded model and ``hf:DIR``, one code path.

The backend owns the tokenizer and chat template; an *engine* turns token ids into tokens.
Engines: ``transformers`` (always there; also what training uses) and the faster CPU engines
added in engines.py. ``--engine auto`` takes the fastest one installed.

A LoRA adapter dir (``adapter_config.json``) is loaded on top of its base model; the base must
be a local dir (``base_model_name_or_path``) or the embedded model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Completion, Request
from .base import Backend, BackendOptions
from .model_files import embedded_model_dir, resolve_model_dir


def _set_threads() -> None:
    import torch

    n = int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def load_hf_model(model_dir: Path, *, trainable: bool = False, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a transformers dir or a PEFT adapter dir. Used by training too."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    dtype = dtype or torch.float32
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file():
        from peft import PeftModel

        base_ref = json.loads(adapter.read_text()).get("base_model_name_or_path") or "embedded"
        base_dir = embedded_model_dir() if base_ref == "embedded" else Path(base_ref)
        if not base_dir.is_dir():
            raise InputError(f"{adapter}: base model {base_ref!r} is not a local dir")
        tok_dir = model_dir if (model_dir / "tokenizer_config.json").is_file() else base_dir
        tok = AutoTokenizer.from_pretrained(tok_dir)
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
        model = PeftModel.from_pretrained(base, model_dir, is_trainable=trainable)
        if not trainable:
            model = model.merge_and_unload()
    else:
        tok = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not trainable:
        model.eval()
    return model, tok


def render_prompt(tok: Any, req: Request) -> str:
    """Chat messages through the model's chat template; raw prompts as they are.

    A model without a chat template (a base model) gets the messages as plain text, each
    prefixed by its role, ending with ``assistant:`` so the model answers.
    """
    if req.prompt is not None:
        return req.prompt
    msgs = req.message_dicts()
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in msgs) + "\n\nassistant:"


class LocalBackend(Backend):
    supports_logprobs = True

    def __init__(self, path: str | None, options: BackendOptions):
        self.kind = "embedded" if path is None else "hf"
        self.model_dir, self._model_id = resolve_model_dir(path)
        self.batch_size = options.batch_size
        _set_threads()
        from .engines import make_engine

        self.engine = make_engine(options.engine, self.model_dir, options)
        self.tokenizer = self.engine.tokenizer

    @property
    def model_id(self) -> str:
        # The engine is part of the identity: int8 engines give (slightly) different text.
        return f"{self._model_id}#{self.engine.name}"

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        texts = [render_prompt(self.tokenizer, r) for r in requests]
        return self.engine.generate(texts, list(requests))


def load_local(path: str | None, options: BackendOptions) -> Backend:
    return LocalBackend(path, options)
