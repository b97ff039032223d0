"""The papers' seeds and benchmarks by name: a registry of public datasets, each pinned to its
upstream repository at a fixed commit (datasets.json, next to this module), fetched on first use
into the user cache dir, checked by hash, and resolved to a local path for every command.

- ``resolve(value)`` is the one place a command turns "a path or a dataset name" into a path: an
  existing path wins; a registered name is fetched if not cached (``dataset_path``) and becomes the
  path its files land at; anything else is returned as a path, so the command's own reader
  reports it as today.
- Cache: ``$INSTRUCTFORGE_DATA_DIR`` if set, else ``<user cache dir>/instructforge/data``; a
  dataset's files keep their upstream paths under ``<cache>/<name>/``, and
  ``<cache>/<name>/.manifest.json`` records the commit, size and sha256 of every file that landed.
- Integrity: a file with a sha256 in the registry (its bytes are known) must match it; a file
  without one (the SuperNI task files, Alpaca) gets the hash of its first download recorded and
  every later download must match that (trust on first use; Alpaca's git blob id is checked on
  that first download). A mismatch is refused with one line naming the file and both hashes, and
  the file is not kept. Downloads land in ``<cache>/.partial/`` first and are moved into place
  only when complete and checked, so the cache never holds half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import atomic_write
from .fetch import MIRROR_ENV, FetchError, fetch_file, file_url, source_from

__all__ = [
    "DATA_DIR_ENV",
    "DataFile",
    "Dataset",
    "data_dir",
    "dataset_path",
    "get",
    "is_name",
    "listing",
    "names",
    "resolve",
    "target_path",
    "verify",
]

DATA_DIR_ENV = "INSTRUCTFORGE_DATA_DIR"
MANIFEST = ".manifest.json"


@dataclass(frozen=True, slots=True)
class DataFile:
    path: str  # the path inside the upstream repository
    sha256: str | None  # None: recorded on first fetch
    bytes: int | None
    commit: str  # the commit it is read at (the dataset's, unless the registry names another)
    git_blob: str | None = None  # git's blob id, where known without the bytes


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    license: str
    repo: str  # owner/name on GitHub
    commit: str
    target: str  # the path (file or folder) inside the repository that commands take
    files: tuple[DataFile, ...]

    def selected(self, only: Sequence[str] | None) -> list[DataFile]:
        """The files a command needs: all, or with ``only`` (task names) the files of those tasks
        inside the target folder plus every file outside it (SuperNI: test_tasks.txt)."""
        if not only:
            return list(self.files)
        inside = self.target.rstrip("/") + "/"
        keep = set(only)
        return [f for f in self.files if not f.path.startswith(inside) or Path(f.path).stem in keep]


@lru_cache(maxsize=1)
def _registry() -> dict[str, Dataset]:
    rows = json.loads(Path(__file__).with_name("datasets.json").read_text(encoding="utf-8"))
    out = {}
    for r in rows:
        commit = r["source"]["commit"]
        files = tuple(
            DataFile(f["path"], f["sha256"], f["bytes"], f.get("commit") or commit, f.get("git_blob"))
            for f in r["files"]
        )
        out[r["name"]] = Dataset(
            r["name"], r["description"], r["license"], r["source"]["repo"], commit, r["target"], files
        )
    return out


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> Dataset:
    ds = _registry().get(name)
    if ds is None:
        raise InputError(f"{name}: no such dataset (instructforge data list: {', '.join(names())})")
    return ds


def data_dir() -> Path:
    """Where datasets are cached: $INSTRUCTFORGE_DATA_DIR, else the user cache dir."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    if os.environ.get("INSTRUCTFORGE_CACHE_DIR"):
        return Path(os.environ["INSTRUCTFORGE_CACHE_DIR"]) / "data"
    import platformdirs

    return Path(platformdirs.user_cache_dir("instructforge")) / "data"


def is_name(value: object) -> bool:
    """A registered dataset name that is not also an existing path (a path always wins)."""
    return isinstance(value, str | Path) and str(value) in _registry() and not Path(value).exists()


def target_path(name: str) -> Path:
    """Where a dataset's target (the file or folder commands take) is, cached or not."""
    ds = get(name)
    return data_dir() / ds.name / ds.target


def resolve(value: str | Path, *, only: Sequence[str] | None = None, source: str | None = None) -> Path:
    """A command's input: an existing path as it is; a dataset name fetched if need be (only the
    files of the tasks in ``only`` where given) and turned into its local path; anything else as
    a path for the command's reader to report."""
    if is_name(value):
        return dataset_path(str(value), only=only, source=source)
    return Path(value)


# -- the cache -------------------------------------------------------------------------------------


def _manifest(name: str) -> dict[str, Any]:
    p = data_dir() / name / MANIFEST
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}}
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {"files": {}}


def _present(ds: Dataset, f: DataFile, manifest: dict[str, Any]) -> bool:
    rec = manifest["files"].get(f.path)
    p = data_dir() / ds.name / f.path
    return bool(rec) and rec.get("commit") == f.commit and p.is_file() and p.stat().st_size == rec.get("bytes")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _git_blob(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expected_sha256(f: DataFile, manifest: dict[str, Any]) -> tuple[str | None, str]:
    """The hash a file must have and where it comes from ("pinned" or "recorded")."""
    if f.sha256:
        return f.sha256, "pinned"
    rec = manifest["files"].get(f.path)
    if rec and rec.get("commit") == f.commit and rec.get("sha256"):
        return str(rec["sha256"]), "recorded"
    return None, "first fetch"


def dataset_path(
    name: str, *, only: Sequence[str] | None = None, source: str | None = None, progress: bool = True
) -> Path:
    """The local path of a dataset's target (the file or folder commands take), fetching first
    whatever the dataset (or the tasks in ``only``) lacks in the cache. One line (InputError, exit 2) when a file cannot be fetched or is wrong."""
    ds = get(name)
    root = data_dir() / ds.name
    manifest = _manifest(ds.name)
    missing = [f for f in ds.selected(only) if not _present(ds, f, manifest)]
    if missing:
        src = source_from(source)
        # the first file alone (its own byte-level bar when it is the only one): offline or a
        # wrong mirror is then one error line, with no bar drawn before it
        _bring(ds, missing[0], src, manifest, progress=progress and len(missing) == 1)
        with ui.progress(f"fetch {ds.name}", len(missing) - 1) as bar:
            for f in missing[1:]:
                _bring(ds, f, src, manifest, progress=False)
                bar.advance()
    return root / ds.target


def _bring(ds: Dataset, f: DataFile, source: str, manifest: dict[str, Any], *, progress: bool) -> None:
    root = data_dir() / ds.name
    partial = data_dir() / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=partial, prefix=f"{ds.name}-"))
    try:
        try:
            staged = fetch_file(source, ds.repo, f.commit, f.path, staging, progress=progress)
        except FetchError as e:
            raise InputError(
                f"{ds.name}: cannot fetch {f.path} ({e}); run `instructforge data get {ds.name}` with internet "
                f"access, or `instructforge data get {ds.name} --from DIR_OR_URL` to read a mirror "
                f"(${MIRROR_ENV} sets one for every command)"
            ) from None
        actual = _sha256(staged)
        expected, _ = expected_sha256(f, manifest)
        where = file_url(source, ds.repo, f.commit, f.path)
        if expected is not None and actual != expected:
            raise InputError(
                f"{ds.name}: {f.path} from {where}: sha256 {actual} differs from the expected {expected}; not kept"
            )
        if expected is None and f.git_blob and _git_blob(staged) != f.git_blob:
            raise InputError(
                f"{ds.name}: {f.path} from {where}: git blob {_git_blob(staged)} differs from the expected "
                f"{f.git_blob} (sha256 {actual}); not kept"
            )
        final = root / f.path
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        manifest["files"][f.path] = {
            "commit": f.commit,
            "sha256": actual,
            "bytes": final.stat().st_size,
            "source": where,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify(selection: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Recheck the hash of every cached file (of the named datasets, else of all). One row per
    file: status "ok", "missing" (not cached) or "mismatch" (with expected and actual sha256)."""
    rows = []
    for name in selection or names():
        ds = get(name)
        manifest = _manifest(ds.name)
        for f in ds.files:
            p = data_dir() / ds.name / f.path
            expected, basis = expected_sha256(f, manifest)
            row: dict[str, Any] = {"dataset": ds.name, "path": f.path, "file": str(p), "basis": basis}
            if not p.is_file() or f.path not in manifest["files"]:
                row["status"] = "missing"
            else:
                actual = _sha256(p)
                row["status"] = "ok" if expected in (None, actual) else "mismatch"
                row.update(expected=expected, actual=actual)
            rows.append(row)
    return rows


def listing() -> list[dict[str, Any]]:
    """``instructforge data list --json``: every dataset, its source, files and whether it is cached."""
    out = []
    for ds in _registry().values():
        manifest = _manifest(ds.name)
        cached = sum(_present(ds, f, manifest) for f in ds.files)
        out.append(
            {
                "name": ds.name,
                "description": ds.description,
                "license": ds.license,
                "source": {"repo": ds.repo, "commit": ds.commit},
                "files": [
                    {"path": f.path, "sha256": f.sha256, "bytes": f.bytes}
                    | ({"commit": f.commit} if f.commit != ds.commit else {})
                    for f in ds.files
                ],
                "cached": cached == len(ds.files),
                "files_cached": cached,
                "pinned": sum(f.sha256 is not None for f in ds.files),
                "path": str(data_dir() / ds.name / ds.target),
            }
        )
    return out
