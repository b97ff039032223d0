"""A model dir converted once to CTranslate2 int8, cached by the digest of its files.

Not a paper component: it prepares the ctranslate2 engine (engine_ct2.py). The model is converted
with ctranslate2's transformers converter and kept under
``cache_root()/models/ct2/<name>-<digest>-int8``; the key is the source dir's digest, so a changed
model is converted again. A LoRA adapter dir is merged into its base first. Atomic (temp dir +
rename) and guarded by a file lock, so parallel processes (Ray actors) convert once and never see
a half-written model.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .model_files import cache_root, dir_digest, load_hf_model

QUANTIZATION = "int8"
#: conversions done in this process (tests check a second load does not convert again)
CONVERSIONS = 0


def converted_dir(model_dir: Path) -> Path:
    """Where the int8 conversion of ``model_dir`` lives (whether or not it exists yet)."""
    digest = dir_digest(model_dir)[:16]
    return cache_root() / "models" / "ct2" / f"{model_dir.name}-{digest}-{QUANTIZATION}"


def ensure_converted(model_dir: Path) -> Path:
    """Convert ``model_dir`` to CTranslate2 int8 once; later calls return the cached copy."""
    target = converted_dir(model_dir)
    if (target / "model.bin").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.bin").is_file():  # another process converted while we waited
            return target
        _convert(model_dir, target)
    return target


def _convert(model_dir: Path, target: Path) -> None:
    global CONVERSIONS
    from ctranslate2.converters import TransformersConverter

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    merged: Path | None = None
    try:
        src = model_dir
        if (model_dir / "adapter_config.json").is_file():
            # A fine-tuned LoRA dir: merge into its base, then convert the merged weights.
            model, tok = load_hf_model(model_dir)
            merged = Path(tempfile.mkdtemp(dir=target.parent, prefix=".merge-"))
            model.save_pretrained(merged, safe_serialization=True)
            tok.save_pretrained(merged)
            src = merged
        out = tmp / "model"
        TransformersConverter(str(src), low_cpu_mem_usage=True).convert(str(out), quantization=QUANTIZATION)
        (out / "instructforge-ct2.json").write_text(
            json.dumps(
                {
                    "source": str(model_dir.resolve()),
                    "quantization": QUANTIZATION,
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)
        CONVERSIONS += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if merged is not None:
            shutil.rmtree(merged, ignore_errors=True)
