"""Deterministic backend for tests and demos: answers come from rules in a JSONL file.

Each line of the file is one rule, tried in order; the first that matches the request's text
(the raw prompt, or the chat messages joined by newlines) answers it::

    {"contains": "Is it classification?", "response": "Yes"}
    {"regex": "^Instruction: .*sum", "response": ["4", "5"]}
    {"prompt_sha256": "ab12...", "response": "exact answer"}
    {"default": true, "response": "I don't know."}

``response`` may be a list: the answer is ``response[sample_index % len]``, so repeated
samples differ but every run is identical. Optional per rule: ``finish_reason`` and
``top_logprobs`` (a list of ``{token: logprob}`` dicts). A scoring request (``Request.continuation``)
is matched on its prompt text followed by the continuation and answered with the rule's
``logprob`` (per continuation word; a rule without one gives an error completion). Stop strings and ``max_tokens``
(counted in whitespace words) are honoured like a real engine would.

Every request seen is kept in ``history`` and, if ``INSTRUCTFORGE_SCRIPTED_LOG`` names a file,
appended to it as JSONL (so tests can count backend calls made by a CLI subprocess).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.errors import InputError
from ...core.io import iter_jsonl
from ..types import Completion, Request
from .base import Backend, BackendOptions


def request_text(req: Request) -> str:
    if req.prompt is not None:
        return req.prompt
    return "\n".join(c for _, c in req.messages or ())


class ScriptedBackend(Backend):
    kind = "scripted"
    supports_logprobs = True
    batch_size = 64

    def __init__(self, source: str | Path | list[dict[str, Any]], batch_size: int = 64):
        self.batch_size = batch_size
        if isinstance(source, list):
            self.rules = [self._check(r, "<rules>", i + 1) for i, r in enumerate(source)]
            self._id = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]
        else:
            path = Path(source)
            if not path.is_file():
                raise InputError(f"{path}: scripted backend file not found")
            self.rules = []
            for n, rule in iter_jsonl(path):
                self.rules.append(self._check(rule, path, n))
            self._id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        self._regex = [re.compile(r["regex"], re.S | re.M) if "regex" in r else None for r in self.rules]
        self.history: list[Request] = []
        self._log = os.environ.get("INSTRUCTFORGE_SCRIPTED_LOG")

    @staticmethod
    def _check(rule: Any, path: object, line: int) -> dict[str, Any]:
        if not isinstance(rule, dict) or "response" not in rule:
            raise InputError.at(path, line, 'a rule needs a "response"')
        if not any(k in rule for k in ("contains", "regex", "prompt_sha256", "default")):
            raise InputError.at(path, line, "a rule needs contains, regex, prompt_sha256 or default")
        return rule

    @classmethod
    def identity(cls, arg: str | None, options: BackendOptions) -> str:
        # Reading the rules is cheap, and a bad rules file is reported before anything runs.
        return cls.from_spec(arg, options).model_id

    @classmethod
    def from_spec(cls, arg: str | None, options: BackendOptions) -> Backend:
        return cls(arg or "", batch_size=options.batch_size)

    @property
    def model_id(self) -> str:
        return f"scripted:{self._id}"

    def _match(self, text: str) -> dict[str, Any] | None:
        sha = hashlib.sha256(text.encode()).hexdigest()
        for rule, rx in zip(self.rules, self._regex, strict=True):
            if "contains" in rule and rule["contains"] in text:
                return rule
            if rx is not None and rx.search(text):
                return rule
            if rule.get("prompt_sha256") == sha:
                return rule
            if rule.get("default"):
                return rule
        return None

    def _score(self, text: str, continuation: str) -> Completion:
        rule = self._match(text)
        if rule is None or not isinstance(rule.get("logprob"), int | float):
            return Completion.failed("scripted: no rule with a logprob matches this scoring request")
        n = max(1, len(continuation.split()))
        return Completion(continuation, "stop", len(text.split()), n, token_logprobs=[float(rule["logprob"])] * n)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        out = []
        for req in requests:
            self.history.append(req)
            if self._log:
                with open(self._log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(req.to_dict(), ensure_ascii=False) + "\n")
            text = request_text(req)
            if req.continuation is not None:
                out.append(self._score(text + req.continuation, req.continuation))
                continue
            rule = self._match(text)
            if rule is None:
                out.append(Completion("", "stop", len(text.split()), 0))
                continue
            resp = rule["response"]
            answer = resp[req.sample_index % len(resp)] if isinstance(resp, list) else str(resp)
            finish = rule.get("finish_reason", "stop")
            for s in req.params.stop:
                cut = answer.find(s)
                if cut >= 0:
                    answer, finish = answer[:cut], "stop"
            words = answer.split(" ")
            if len(answer.split()) > req.params.max_tokens:
                answer, finish = " ".join(words[: req.params.max_tokens]), "length"
            out.append(
                Completion(
                    answer,
                    finish,
                    prompt_tokens=len(text.split()),
                    completion_tokens=len(answer.split()),
                    top_logprobs=rule.get("top_logprobs") if req.params.logprobs else None,
                )
            )
        return out
