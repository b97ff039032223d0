"""Bringing one pinned upstream file into a staging folder: from GitHub's raw file host (the
default), from a mirror served over HTTP(S) or from a mirror folder, all laid out as
``<root>/<owner>/<repo>/<commit>/<path>`` (GitHub's raw layout).

HTTP downloads go through pooch (retries with back-off, a temporary file moved into place only
once complete, a progress bar). Nothing here decides whether the bytes are right: the caller
(``data.datasets``) hashes the staged file and moves it under the dataset's name or throws it
away, so a cut download or a wrong file never appears in the cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["DEFAULT_SOURCE", "MIRROR_ENV", "FetchError", "file_url", "fetch_file", "source_from"]

DEFAULT_SOURCE = "https://raw.githubusercontent.com"
MIRROR_ENV = "INSTRUCTFORGE_DATA_MIRROR"
RETRIES = 2  # extra attempts after a failed HTTP download (a dropped connection, a timeout)


class FetchError(Exception):
    """The file could not be brought (no network, no such file on the mirror, a cut download)."""


def source_from(option: str | None) -> str:
    """The source to read from: the ``--from`` value, else $INSTRUCTFORGE_DATA_MIRROR, else GitHub."""
    return option or os.environ.get(MIRROR_ENV) or DEFAULT_SOURCE


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def file_url(source: str, repo: str, commit: str, path: str) -> str:
    """Where a file is on a source: a URL, or a path inside a mirror folder."""
    if _is_url(source):
        return f"{source.rstrip('/')}/{repo}/{commit}/{path}"
    root = source[len("file://") :] if source.startswith("file://") else source
    return str(Path(root) / repo / commit / path)


def fetch_file(source: str, repo: str, commit: str, path: str, staging: Path, *, progress: bool) -> Path:
    """Bring ``repo@commit:path`` from ``source`` into ``staging`` (a fresh folder); returns the
    staged file. Raises FetchError naming the place it tried."""
    where = file_url(source, repo, commit, path)
    target = staging / Path(path).name
    if not _is_url(source):
        src = Path(where)
        if not src.is_file():
            raise FetchError(f"{where}: not in the mirror folder")
        # copy under a temporary name first: a kill mid-copy leaves no file under the real name
        fd, tmp = tempfile.mkstemp(dir=staging, prefix=".part-")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    show = progress and sys.stderr.isatty()
    try:
        # known hash None: the caller checks it (it knows the pinned or the recorded one)
        fetcher = pooch.create(
            path=staging, base_url="", registry={target.name: None}, urls={target.name: where}, retry_if_failed=RETRIES
        )
        fetcher.fetch(target.name, downloader=pooch.HTTPDownloader(progressbar=show, timeout=60))
    except requests.exceptions.HTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        raise FetchError(f"{where}: HTTP {status}") from None
    except requests.exceptions.ConnectionError as e:
        cut = isinstance(e.__context__, Exception) and "IncompleteRead" in repr(e)
        raise FetchError(f"{where}: {'the connection dropped mid-file' if cut else 'cannot connect'}") from None
    except requests.exceptions.ChunkedEncodingError:
        raise FetchError(f"{where}: the connection dropped mid-file") from None
    except requests.exceptions.Timeout:
        raise FetchError(f"{where}: timed out") from None
    except (requests.exceptions.RequestException, OSError, ValueError) as e:
        reason = type(e).__name__ if not str(e) else str(e).splitlines()[0][:160]
        raise FetchError(f"{where}: {reason}") from None
    if not target.is_file():
        raise FetchError(f"{where}: nothing was downloaded")
    return target
