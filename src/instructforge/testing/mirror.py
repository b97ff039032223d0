"""A local mirror of the dataset registry for tests and benchmarks: ``build_mirror`` lays out the
reference copies of the project's test data folder (``shared``: the tests' ``shared_data``
fixture, ``$INSTRUCTFORGE_SHARED_DATA``) as ``<root>/<owner>/<repo>/<commit>/<path>`` (GitHub's raw
layout, what ``instructforge data get --from`` reads), and ``MirrorServer`` serves such a folder
over HTTP on 127.0.0.1, with failures injected on request: a connection dropped halfway through
a file, a flipped byte.

Only the files the reference copies hold are laid out: all of them except Alpaca (not shared) and
96 of the 119 SuperNI test tasks (23 shared, each cut to 100 instances).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..data.datasets import get, names

__all__ = ["MirrorServer", "build_mirror", "shared_file", "serve"]


def shared_file(shared: Path, dataset: str, path: str) -> Path | None:
    """The reference copy of a registry file in the test data folder ``shared``, if there is one."""
    rel = {
        "self-instruct-seeds": lambda p: Path("self-instruct/seed_tasks.jsonl"),
        "user-oriented": lambda p: Path("self-instruct/user_oriented_instructions.jsonl"),
        "instruction-induction": lambda p: Path("instruction-induction") / Path(p).relative_to("data"),
        "superni-test": lambda p: Path("superni") / Path(p).name,
    }.get(dataset)
    if rel is None:
        return None
    f = shared / rel(path)
    return f if f.is_file() else None


def build_mirror(shared: Path, root: Path) -> Path:
    """Copy every registry file that the test data folder ``shared`` holds into ``root`` in the
    upstream layout."""
    for name in names():
        ds = get(name)
        for f in ds.files:
            src = shared_file(shared, name, f.path)
            if src is not None:
                dst = root / ds.repo / f.commit / f.path
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
    return root


class _Handler(SimpleHTTPRequestHandler):
    server: MirrorServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append(self.path)
        for suffix, left in list(srv.drops.items()):
            if self.path.endswith(suffix) and left > 0:
                srv.drops[suffix] = left - 1
                body = (Path(srv.root) / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the rest never comes
                return
        super().do_GET()


class MirrorServer(ThreadingHTTPServer):
    """Serves ``root`` on 127.0.0.1; ``drops[suffix] = n`` cuts the next n downloads of a file."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.requests: list[str] = []
        self.drops: dict[str, int] = {}
        root_dir = self.root

        class Handler(_Handler):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, directory=root_dir, **kw)

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve(root: Path) -> Iterator[MirrorServer]:
    srv = MirrorServer(root)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
