"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat/completions and completions API,
for tests and benchmarks of the ``openai:`` backend (no network, no mocks of the client).

Answers are deterministic: ``"echo: <last user message or prompt>"`` cut to ``max_tokens``
words (or what ``responder(text, body)`` returns). Failures are injected per prompt by
directives inside the prompt text, counted per distinct prompt, so a test knows exactly what
will happen:

- ``[[429:N]]``  the first N attempts get HTTP 429 with ``Retry-After``
- ``[[500:N]]``  the first N attempts get HTTP 500
- ``[[400:N]]``  the first N attempts get HTTP 400 (a request the server refuses, as vLLM does)
- ``[[garbage:N]]`` the first N attempts get HTTP 200 with a body that is not JSON
- ``[[slow:N]]`` the first N attempts sleep ``slow_seconds`` (beyond the client's timeout)
- ``[[drop:N]]`` the first N attempts have their connection closed without an answer

``latency`` adds a fixed delay to every request (``latency_range=(lo, hi)``: a delay drawn
uniformly per request from a seeded RNG) and ``max_concurrency`` makes the server process at
most that many at once (others queue, as on a real inference server), which is what the
efficiency benchmarks need. ``report_usage=False`` (``--no-usage``) leaves ``usage`` out of every answer, as some servers
and proxies do (the client then counts tokens with a tokenizer). ``GET /stats`` returns ``served``, ``max_in_flight`` and
``failures``. ``python -m instructforge.testing.fake_openai --plausible`` answers
instructforge's own prompts plausibly (testing/plausible.py).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIRECTIVE = re.compile(r"\[\[(429|500|400|garbage|slow|drop):(\d+)\]\]")


class _Server(ThreadingHTTPServer):
    # listen() runs in the constructor, so the backlog must be a class attribute: with the
    # default of 5, a client opening 128 connections at once has most SYNs dropped and
    # retried a second later, which looks like server latency.
    request_queue_size = 1024
    daemon_threads = True


class FakeOpenAIServer:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        latency_range: tuple[float, float] | None = None,
        seed: int = 0,
        max_concurrency: int | None = None,
        port: int = 0,
        slow_seconds: float = 2.0,
        retry_after: float = 0.05,
        responder: Callable[[str, dict[str, Any]], str] | None = None,
        top_logprobs: dict[str, float] | None = None,
        report_usage: bool = True,
        prompt_logprob: Callable[[str, str], float] | None = None,
    ):
        self.report_usage = report_usage
        self.prompt_logprob = prompt_logprob  # echo: a prompt token's log-probability (see _echo)
        self.latency = latency
        self.latency_range = latency_range
        self._latency_rng = random.Random(seed)
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.responder = responder
        self.top_logprobs = top_logprobs or {"Yes": -0.2, "No": -1.8}
        self.sem = threading.Semaphore(max_concurrency) if max_concurrency else None
        self.attempts: Counter[str] = Counter()
        self.served = 0
        self.failures: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in separate writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms per request), which would dominate every latency figure
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                with server._lock:
                    stats = {
                        "served": server.served,
                        "in_flight": server.in_flight,
                        "max_in_flight": server.max_in_flight,
                        "failures": dict(server.failures),
                    }
                server._send(self, 200, stats)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                server._handle(self, body)

        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- behaviour -------------------------------------------------------------------------------
    def _text_of(self, body: dict[str, Any]) -> str:
        if "messages" in body:
            users = [m["content"] for m in body["messages"] if m.get("role") == "user"]
            return users[-1] if users else ""
        return str(body.get("prompt", ""))

    def _send(
        self, h: BaseHTTPRequestHandler, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = self._text_of(body)
        with self._lock:
            self.attempts[text] += 1
            attempt = self.attempts[text]
        for kind, count in DIRECTIVE.findall(text):
            if attempt <= int(count):
                with self._lock:
                    self.failures[kind] += 1
                if kind == "429":
                    return self._send(
                        h, 429, {"error": {"message": "rate limited"}}, {"retry-after": str(self.retry_after)}
                    )
                if kind == "500":
                    return self._send(h, 500, {"error": {"message": "boom"}})
                if kind == "400":
                    return self._send(h, 400, {"object": "error", "message": "this request is refused", "code": 400})
                if kind == "garbage":
                    data = b"<html>502 proxy says hello</html>"
                    h.send_response(200)
                    h.send_header("content-length", str(len(data)))
                    h.end_headers()
                    h.wfile.write(data)
                    return None
                if kind == "slow":
                    time.sleep(self.slow_seconds)
                    try:
                        return self._answer(h, body, text)
                    except OSError:
                        return None
                if kind == "drop":
                    h.close_connection = True
                    try:
                        h.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return None
        if self.sem is not None:
            with self.sem:
                self._answer(h, body, text)
        else:
            self._answer(h, body, text)
        return None

    def _answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any], text: str) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_range:
                with self._lock:
                    delay = self._latency_rng.uniform(*self.latency_range)
                time.sleep(delay)
            elif self.latency:
                time.sleep(self.latency)
            if body.get("echo") and "prompt" in body:
                return self._echo(h, body, text)
            answer = self.responder(text, body) if self.responder else f"echo: {text}"
            words = answer.split(" ")
            max_tokens = int(body.get("max_tokens") or 10**9)
            finish = "stop"
            if len(words) > max_tokens:
                answer, finish = " ".join(words[:max_tokens]), "length"
            for s in body.get("stop") or []:
                k = answer.find(s)
                if k >= 0:
                    answer, finish = answer[:k], "stop"
            usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(answer.split())}
            if "messages" in body:
                choice: dict[str, Any] = {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": finish,
                }
                if body.get("logprobs"):
                    top = [{"token": t, "logprob": lp} for t, lp in self.top_logprobs.items()]
                    choice["logprobs"] = {
                        "content": [{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}]
                    }
                obj = {"object": "chat.completion", "model": body.get("model"), "choices": [choice], "usage": usage}
                if not self.report_usage:
                    del obj["usage"]
            else:
                choice = {"index": 0, "text": answer, "finish_reason": finish}
                if body.get("logprobs"):
                    choice["logprobs"] = {"top_logprobs": [dict(self.top_logprobs)]}
                obj = {"object": "text_completion", "model": body.get("model"), "choices": [choice], "usage": usage}
                if not self.report_usage:
                    del obj["usage"]
            self._send(h, 200, obj)
            with self._lock:
                self.served += 1
        finally:
            with self._lock:
                self.in_flight -= 1

    def _echo(self, h: BaseHTTPRequestHandler, body: dict[str, Any], text: str) -> None:
        """``echo: true`` on /completions (``max_tokens: 0``): the prompt back with a log-probability
        per whitespace-separated token (a leading space belongs to the token, as in BPE), the
        first one null, as vLLM answers. A token's log-probability is ``-len(token) / 10``, or
        ``prompt_logprob(token, text_before_it)`` when the server was given that function."""
        tokens = re.findall(r"\s*\S+|\s+$", text)
        offsets, pos = [], 0
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
        fn = self.prompt_logprob or (lambda t, _before: -len(t.strip()) / 10)
        values: list[float | None] = [
            None,
            *(float(fn(t, text[:o])) for t, o in zip(tokens[1:], offsets[1:], strict=True)),
        ]
        choice = {
            "index": 0,
            "text": text,
            "finish_reason": "length",
            "logprobs": {"tokens": tokens, "text_offset": offsets, "token_logprobs": values, "top_logprobs": None},
        }
        usage = {"prompt_tokens": len(tokens), "completion_tokens": 0}
        self._send(
            h, 200, {"object": "text_completion", "model": body.get("model"), "choices": [choice], "usage": usage}
        )
        with self._lock:
            self.served += 1


@contextlib.contextmanager
def server_process(*args: str, quiet: bool = False) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m instructforge.testing.fake_openai ARGS`` in a process of its own (its threads
    then do not compete with the client's for the GIL): (the process, its base URL), killed on
    exit. ``quiet``: its stderr is discarded."""
    p = subprocess.Popen(
        [sys.executable, "-m", "instructforge.testing.fake_openai", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )
    try:
        assert p.stdout is not None
        yield p, p.stdout.readline().strip()
    finally:
        p.kill()
        p.wait()


def server_stats(url: str) -> dict[str, Any]:
    """``GET /stats`` of the server at base URL ``url``: ``served``, ``max_in_flight``, ``failures``."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=5) as r:
        stats: dict[str, Any] = json.loads(r.read())
    return stats


def main() -> None:
    """``python -m instructforge.testing.fake_openai [--port P] [--latency S]``: serve until Ctrl-C."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--latency-range", type=float, nargs=2, default=None, metavar=("LO", "HI"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-concurrency", type=int, default=None)
    ap.add_argument("--plausible", action="store_true", help="answer instructforge's prompts (testing/plausible.py)")
    ap.add_argument("--no-usage", action="store_true", help="leave usage out of every answer")
    ap.add_argument("--fault-rate", type=float, default=0.0, help="--plausible: share of new tasks the server refuses")
    a = ap.parse_args()
    responder = None
    if a.plausible:
        from .plausible import responder as plausible

        responder = plausible(a.fault_rate)
    with FakeOpenAIServer(
        latency=a.latency,
        latency_range=tuple(a.latency_range) if a.latency_range else None,
        seed=a.seed,
        max_concurrency=a.max_concurrency,
        responder=responder,
        port=a.port,
        report_usage=not a.no_usage,
    ) as s:
        print(s.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
