"""Local backends: the embedded model and ``hf:DIR``, one code path.

The backend owns the tokenizer and chat template; an *engine* turns token ids into tokens.
A scoring request (``Request.continuation``, for APE's likelihood) goes to ``Engine.score``:
the log-probability of each continuation token after the rendered prompt.
Engines: ``transformers`` (always there; also what training uses) and the faster CPU engines
(engines.py). ``--engine auto`` takes the fastest one installed.

A LoRA adapter dir (``adapter_config.json``) is loaded on top of its base model; the base must
be a local dir (``base_model_name_or_path``) or the embedded model
(``model_files.resolve_adapter_base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..types import Completion, Request
from .base import Backend, BackendOptions
from .engines import engine_identity, make_engine
from .model_files import load_hf_model, resolve_model_dir

__all__ = ["LocalBackend", "load_hf_model", "render_prompt"]  # load_hf_model: for training code


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
    """``embedded`` (``path`` None) or ``hf:DIR`` on the engine ``options.engine``."""

    supports_logprobs = True

    def __init__(self, path: str | None, options: BackendOptions):
        self.kind = "embedded" if path is None else "hf"
        self.model_dir, ident = resolve_model_dir(path)
        self._model_id = self._identity(ident, options)
        self.batch_size = options.batch_size
        self.engine = make_engine(options.engine, self.model_dir, options)
        self.tokenizer = self.engine.tokenizer

    @staticmethod
    def _identity(model_ident: str, options: BackendOptions) -> str:
        # The engine is part of the identity: int8 and bfloat16 engines give (slightly) different text.
        return f"{model_ident}#{engine_identity(options)}"

    @classmethod
    def identity(cls, arg: str | None, options: BackendOptions) -> str:
        return cls._identity(resolve_model_dir(arg)[1], options)

    @property
    def model_id(self) -> str:
        return self._model_id

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        texts = [render_prompt(self.tokenizer, r) for r in requests]
        out: list[Completion | None] = [None] * len(requests)
        gen = [i for i, r in enumerate(requests) if r.continuation is None]
        scoring = [i for i, r in enumerate(requests) if r.continuation is not None]
        if gen:
            for i, c in zip(
                gen, self.engine.generate([texts[i] for i in gen], [requests[i] for i in gen]), strict=True
            ):
                out[i] = c
        if scoring:
            conts = [requests[i].continuation or "" for i in scoring]
            lps = self.engine.score([texts[i] for i in scoring], conts)
            for i, cont, lp in zip(scoring, conts, lps, strict=True):
                out[i] = Completion(cont, "stop", 0, len(lp), token_logprobs=lp)
        return [c for c in out if c is not None]
