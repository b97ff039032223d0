"""``openai:MODEL`` — any OpenAI-compatible server: vLLM serve, Ollama, llama.cpp server, OpenAI.

Streaming: the executor hands over each request as soon as there is room (``window()``), and
each answer is reported the moment it arrives, so the server always has ``--concurrency``
requests (or, with ``--concurrency auto``, what backends/concurrency.py measures it can take).
Async under the hood (aiohttp on a private event-loop thread, one pooled session: httpx's
connection pool cost 20 ms of CPU per request at 128 connections, aiohttp's 0.3 ms), per-request
timeouts, and retries with exponential backoff and full jitter on 429 / 5xx / timeouts /
dropped connections, honouring ``Retry-After``. When the retries run out the whole command
stops with one line (the server is down); a request the server refuses (another 4xx) or
answers with something unreadable becomes an error completion that the stage counts as a
rejection, and the run goes on.

Endpoints: ``chat`` (``/chat/completions``, instruction-tuned models) or ``completions``
(``/completions``, base models: chat messages are flattened to plain text there). The API key
comes from ``INSTRUCTFORGE_API_KEY`` or ``OPENAI_API_KEY`` and is only ever put in a request
header: never in the cache, the run dir or the logs.

Token counts: the server's ``usage`` when it reports one (``tokens_from: "server"``); a server
that reports none (some llama.cpp / proxy set-ups) has both counted by a tokenizer
(``--usage-tokenizer``: embedded, the default, or a local model dir; ``tokens_from:
"tokenizer"``), so the ledger (models/usage.py) never shows zero tokens for real work.

Parameter mapping (checked against a real vLLM server in tests/scaling/test_vllm_server.py):
greedy (``temperature`` 0, or ``top_p`` 0 as in the Self-Instruct paper's instance step) is
sent as ``temperature: 0, top_p: 1`` (vLLM rejects ``top_p: 0``); ``seed`` is the request's
seed mixed with its sample index, below 2**31; presence/frequency penalties and ``stop`` are
OpenAI's own; ``repetition_penalty`` is sent only when set (a vLLM / llama.cpp extension);
``logprobs: N`` becomes ``logprobs: true, top_logprobs: N`` on chat and ``logprobs: N`` on
completions.

Scoring requests (``Request.continuation``, APE's likelihood) always go to ``/completions``
(whatever ``--api``), as the prompt (chat messages flattened) followed by the continuation with
``echo: true, logprobs: 0, max_tokens: 0``: the server returns the log-probability of every
prompt token (vLLM: its prompt log-probabilities; the first token has none), and the tokens whose
text ends within the echo's last len(continuation) characters are the continuation's. The server tokenizes prompt
and continuation together; the local engines tokenize them apart (the same tokens whenever the
continuation starts with a space, as the Instruction Induction answers do).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ...core.errors import BackendError, InputError
from ..types import Completion, Request
from .base import Backend, BackendOptions
from .concurrency import make_limit
from .decoding import request_seed
from .model_files import load_tokenizer, resolve_model_dir

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
#: where requests go when neither --base-url nor $OPENAI_BASE_URL says (identity only: the
#: backend itself refuses to guess)
DEFAULT_BASE_URL = "https://api.openai.com/v1"
OVERLOAD_STATUS = {429, 503}


def _base_url(options: BackendOptions) -> str | None:
    return options.base_url or os.environ.get("OPENAI_BASE_URL")


def flatten_messages(req: Request) -> str:
    if req.prompt is not None:
        return req.prompt
    return "\n\n".join(c for _, c in req.messages or ()) + "\n\n"


def wire_sampling(req: Request) -> dict[str, Any]:
    """The sampling fields of one request body (see the module docstring for the mapping).

    >>> from instructforge.models.types import SamplingParams
    >>> greedy = wire_sampling(Request.chat("hi", params=SamplingParams(temperature=0.0, top_p=0.0)))
    >>> greedy["temperature"], greedy["top_p"]
    (0.0, 1.0)
    """
    p = req.params
    body: dict[str, Any] = {
        "temperature": 0.0 if p.greedy else p.temperature,
        "top_p": 1.0 if p.greedy else min(1.0, p.top_p),
        "max_tokens": p.max_tokens,
        "seed": request_seed(req) % (2**31 - 1),
    }
    if p.stop:
        body["stop"] = list(p.stop)
    if p.presence_penalty:
        body["presence_penalty"] = p.presence_penalty
    if p.frequency_penalty:
        body["frequency_penalty"] = p.frequency_penalty
    if p.repetition_penalty:
        body["repetition_penalty"] = p.repetition_penalty
    return body


class _LoopThread:
    """One event loop on a daemon thread, so sync callers can run async work without
    creating a loop (and a connection pool) per batch."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="openai-loop")
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class OpenAIBackend(Backend):
    kind = "openai"
    supports_logprobs = True
    streaming = True

    def __init__(self, model: str, options: BackendOptions):
        self.model = model
        self.options = options
        base = _base_url(options)
        if not base:
            raise InputError("openai backend needs --base-url URL (or OPENAI_BASE_URL)")
        if not base.startswith(("http://", "https://")):
            raise InputError(f"--base-url {base!r}: must start with http:// or https://")
        self.base_url = base.rstrip("/")
        self.api = options.api
        self._model_id = self.identity(model, options)
        self.batch_size = max(1024, options.concurrency * 64)  # generate(): one call keeps the window full
        self.limit = make_limit(options.concurrency, options.adaptive_concurrency)
        key = os.environ.get("INSTRUCTFORGE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._loop = _LoopThread()
        self._client = self._loop.run(self._make_client())
        self._tasks: set[asyncio.Task[Any]] = set()
        self.retries_done = 0
        self._tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()

    async def _make_client(self) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.options.concurrency, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout, connect=min(10.0, self.options.timeout))
        return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self._headers)

    @classmethod
    def identity(cls, arg: str | None, options: BackendOptions) -> str:
        base = _base_url(options) or DEFAULT_BASE_URL
        return f"openai:{base.rstrip('/')}:{arg}:{options.api}"

    @property
    def model_id(self) -> str:
        return self._model_id

    # -- request building ------------------------------------------------------------------------
    def _body(self, req: Request) -> tuple[str, dict[str, Any]]:
        p = req.params
        body: dict[str, Any] = {"model": self.model, **wire_sampling(req)}
        if req.continuation is not None:
            body.update(prompt=flatten_messages(req) + req.continuation, echo=True, logprobs=0, max_tokens=0)
            body["temperature"], body["top_p"] = 0.0, 1.0
            body.pop("stop", None)
            return "/completions", body
        if self.api == "completions":
            body["prompt"] = flatten_messages(req)
            if p.logprobs:
                body["logprobs"] = p.logprobs
            return "/completions", body
        body["messages"] = (
            req.message_dicts() if req.messages is not None else [{"role": "user", "content": req.prompt}]
        )
        if p.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = p.logprobs
        return "/chat/completions", body

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the usage tokenizer (loaded on first use)."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                spec = self.options.tokenizer
                self._tokenizer = load_tokenizer(resolve_model_dir(None if spec in (None, "embedded") else spec)[0])
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _counted(self, req: Request, comp: Completion, usage: Any) -> Completion:
        """``comp`` with its tokens from the server's usage, or counted when there is none."""
        if isinstance(usage, dict) and ("prompt_tokens" in usage or "completion_tokens" in usage):
            comp.tokens_from = "server"
            return comp
        if self.api == "completions" or req.messages is None:
            prompt = flatten_messages(req)
        else:
            prompt = "\n".join(c for _, c in req.messages)
        comp.prompt_tokens = self.count_tokens(prompt)
        comp.completion_tokens = self.count_tokens(comp.text) if comp.text else 0
        comp.tokens_from = "tokenizer"
        return comp

    def _parse_score(self, data: dict[str, Any], req: Request) -> Completion:
        """The continuation's token log-probabilities out of an echoed prompt (see the module doc)."""
        try:
            lp = data["choices"][0]["logprobs"]
            tokens, offsets, values = lp["tokens"], lp["text_offset"], lp["token_logprobs"]
        except (KeyError, IndexError, TypeError):
            return Completion.failed(f"no prompt log-probabilities in the answer (echo + logprobs): {str(data)[:200]}")
        if not tokens:
            return Completion.failed("the echoed prompt has no tokens")
        # counted from the end: a token the server puts before the prompt (BOS) shifts nothing
        end = offsets[-1] + len(tokens[-1])
        start = end - len(req.continuation or "")
        picked = [
            float(v) for t, o, v in zip(tokens, offsets, values, strict=False) if o + len(t) > start and v is not None
        ]
        if not picked:
            return Completion.failed("the echoed prompt has no log-probabilities for the continuation")
        usage = data.get("usage") or {}
        return Completion(
            req.continuation or "", "stop", int(usage.get("prompt_tokens") or 0), len(picked), token_logprobs=picked
        )

    def _parse(self, data: dict[str, Any]) -> Completion:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError):
            return Completion.failed(f"malformed response (no choices): {str(data)[:200]}")
        usage = data.get("usage") or {}
        top = None
        lp = choice.get("logprobs")
        if self.api == "completions":
            text = choice.get("text") or ""
            if lp and lp.get("top_logprobs"):
                top = [dict(d) for d in lp["top_logprobs"] if d is not None]
        else:
            text = (choice.get("message") or {}).get("content") or ""
            if lp and lp.get("content"):
                top = [
                    {t["token"]: float(t["logprob"]) for t in item.get("top_logprobs", [])} for item in lp["content"]
                ]
        finish = choice.get("finish_reason") or "stop"
        return Completion(
            text,
            "length" if finish == "length" else "stop",
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            top,
        )

    # -- sending -------------------------------------------------------------------------------------
    async def _one(self, req: Request) -> Completion:
        """One request with its retries. A refused or unreadable answer is an error completion;
        running out of retries raises BackendError (the server is down or drowning)."""
        import aiohttp

        path, body = self._body(req)
        url = self.base_url + path
        last = ""
        for attempt in range(self.options.max_retries + 1):
            wait = self.limit.pause_until - time.monotonic()
            if wait > 0:  # the server asked every client to hold off (Retry-After)
                await asyncio.sleep(wait)
            retry_after: float | None = None
            t0 = time.monotonic()
            try:
                async with self._client.post(url, json=body) as r:
                    status, text, ra = r.status, await r.text(), r.headers.get("retry-after")
                if status == 200:
                    self.limit.on_answer(time.monotonic() - t0)
                    try:
                        data = json.loads(text)
                        if req.continuation is not None:
                            comp = self._parse_score(data, req)
                        else:
                            comp = self._parse(data)
                        return comp if not comp.ok else self._counted(req, comp, data.get("usage"))
                    except (ValueError, TypeError, AttributeError) as e:
                        return Completion.failed(f"unreadable answer ({type(e).__name__}): {text[:200]}")
                if status not in RETRY_STATUS:
                    return Completion.failed(f"HTTP {status}: {text[:300]}")
                last = f"HTTP {status}"
                if ra:
                    try:
                        retry_after = float(ra)
                    except ValueError:
                        retry_after = None
                if status in OVERLOAD_STATUS:
                    self.limit.on_overload(retry_after)
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                last = type(e).__name__
            if attempt == self.options.max_retries:
                break
            self.retries_done += 1
            # Full jitter (AWS architecture blog): spread retries so a burst of 429s does not
            # come back as another burst.
            delay = random.uniform(0, min(30.0, 0.25 * 2**attempt))
            if retry_after is not None:
                delay = max(delay, min(retry_after, 60.0))
            log.info("retry %d for %s after %s (%.2fs)", attempt + 1, url, last, delay)
            await asyncio.sleep(delay)
        raise BackendError(f"{url}: no answer after {self.options.max_retries + 1} attempts (last: {last})")

    def window(self) -> int:
        return self.limit.limit

    def start(
        self, items: Sequence[tuple[int, Request]], done: Callable[[int, Completion | BaseException], None]
    ) -> None:
        items = list(items)

        def launch() -> None:
            for rid, req in items:
                task = self._loop.loop.create_task(self._one(req))
                self._tasks.add(task)
                task.add_done_callback(functools.partial(self._finished, rid=rid, done=done))

        self._loop.loop.call_soon_threadsafe(launch)

    def _finished(
        self, task: asyncio.Task[Any], rid: int, done: Callable[[int, Completion | BaseException], None]
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        done(rid, exc if exc is not None else task.result())

    def cancel(self) -> None:
        def cancel_all() -> None:
            for t in list(self._tasks):
                t.cancel()

        self._loop.loop.call_soon_threadsafe(cancel_all)

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """The batch form (used by the Ray executor's actors): every request at once, the
        window still bounding what is in flight."""
        if not requests:
            return []
        return self._loop.run(self._all(requests))

    async def _all(self, requests: Sequence[Request]) -> list[Completion]:
        sem = asyncio.Semaphore(self.limit.limit)

        async def one(r: Request) -> Completion:
            async with sem:
                return await self._one(r)

        tasks = [asyncio.ensure_future(one(r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            raise

    def close(self) -> None:
        try:
            self._loop.run(self._client.close())
        finally:
            self._loop.stop()
