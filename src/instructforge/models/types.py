"""The wire types of a model call: sampling parameters, a request, its completion.

All records are ``@dataclass(slots=True)`` and round-trip through plain dicts (JSONL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class SamplingParams:
    """Sampling parameters, OpenAI-style names. Each backend maps them to its engine.

    ``presence_penalty``/``frequency_penalty`` are OpenAI's additive penalties; local engines
    have no exact equivalent and map them to a multiplicative ``repetition_penalty`` (see
    backends/local docs). ``logprobs``: return the top-N alternatives of each generated token.
    """

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float | None = None
    logprobs: int | None = None

    @property
    def greedy(self) -> bool:
        """Temperature 0, or top_p 0 (only the most likely token: the Self-Instruct paper's
        instance step sets both). Every backend decodes greedily then; servers are sent
        ``top_p: 1``, since vLLM refuses ``top_p: 0``."""
        return self.temperature <= 0 or self.top_p <= 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingParams:
        d = dict(d)
        d["stop"] = tuple(d.get("stop") or ())
        return cls(**d)


@dataclass(slots=True, frozen=True)
class Request:
    """One model call: chat ``messages`` or a raw ``prompt`` (for base models), never both.

    ``seed`` + ``sample_index`` make sampled calls reproducible and cacheable: asking twice
    for the same prompt with different ``sample_index`` gives two independent samples.
    """

    messages: tuple[tuple[str, str], ...] | None = None  # ((role, content), ...)
    prompt: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int | None = None
    sample_index: int = 0
    #: set: a scoring request (``LLM.score``): nothing is generated; the backend returns the
    #: log-probability of each token of this text given the prompt (``Completion.token_logprobs``)
    continuation: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a Request has either messages or a prompt")

    def prompt_chars(self) -> int:
        """The prompt's length in characters (a cheap stand-in for its token count)."""
        extra = len(self.continuation or "")
        if self.prompt is not None:
            return len(self.prompt) + extra
        return sum(len(content) for _role, content in self.messages or ()) + extra

    @classmethod
    def chat(cls, content: str, *, system: str | None = None, **kw: Any) -> Request:
        msgs: list[tuple[str, str]] = []
        if system:
            msgs.append(("system", system))
        msgs.append(("user", content))
        return cls(messages=tuple(msgs), **kw)

    @classmethod
    def raw(cls, prompt: str, **kw: Any) -> Request:
        return cls(prompt=prompt, **kw)

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in (self.messages or ())]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "messages": self.message_dicts() if self.messages is not None else None,
            "prompt": self.prompt,
            "params": self.params.to_dict(),
            "seed": self.seed,
            "sample_index": self.sample_index,
        }
        if self.continuation is not None:  # absent otherwise: generation cache keys stay as they were
            d["continuation"] = self.continuation
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Request:
        msgs = d.get("messages")
        return cls(
            messages=tuple((m["role"], m["content"]) for m in msgs) if msgs is not None else None,
            prompt=d.get("prompt"),
            params=SamplingParams.from_dict(d.get("params") or {}),
            seed=d.get("seed"),
            sample_index=d.get("sample_index", 0),
            continuation=d.get("continuation"),
        )

    def key(self) -> str:
        """Stable hash of everything that determines the answer (except the model)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(slots=True)
class Completion:
    """What a backend returns for one Request.

    ``finish_reason``: "stop" (EOS or a stop string), "length" (hit max_tokens) or "error"
    (the server refused this one request, e.g. HTTP 400, or answered something unreadable:
    ``error`` says what; such completions are counted, never cached).
    ``top_logprobs``: when requested, one ``{token_text: logprob}`` dict per generated token.
    ``token_logprobs``: for a scoring request (``Request.continuation``), the log-probability of
    each continuation token given the prompt and the tokens before it.
    """

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    top_logprobs: list[dict[str, float]] | None = None
    error: str | None = None
    #: who counted the tokens: "server" (its ``usage``) or "tokenizer"; None: the backend's own
    #: tokenizer (local engines, scripted)
    tokens_from: str | None = None
    token_logprobs: list[float] | None = None

    @property
    def mean_logprob(self) -> float | None:
        """Mean log-probability per continuation token (APE's likelihood of one example)."""
        lps = self.token_logprobs
        return sum(lps) / len(lps) if lps else None

    @classmethod
    def failed(cls, error: str) -> Completion:
        return cls("", "error", error=error)

    @property
    def ok(self) -> bool:
        return self.finish_reason != "error"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("error", "tokens_from", "token_logprobs"):
            if d[k] is None:
                del d[k]  # cache entries stay as they were before the field existed
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Completion:
        return cls(**d)
