"""What SFT (train/sft.py) and the REFINE-AF RL stage (train/refine.py) share: the model to
start from, LoRA, CPU set-up (threads, the allocator), a quiet Trainer, and the adapter's base."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import atomic_write


def local_model_dir(spec: str, command: str) -> Path:
    """The local model dir training starts from (``embedded`` or ``hf:DIR``); an InputError
    naming ``command`` for any other spec (a server cannot be trained here)."""
    from ..models.backends import parse_spec
    from ..models.backends.model_files import embedded_model_dir, resolve_model_dir

    kind, arg = parse_spec(spec)
    if kind == "embedded":
        return embedded_model_dir()
    if kind != "hf":
        raise InputError(f"{command} trains a local model: --model embedded or hf:DIR, not {spec!r}")
    return resolve_model_dir(arg)[0]


def set_threads() -> None:
    """Training set-up on CPU: torch threads (``INSTRUCTFORGE_THREADS``, else every core, shared
    out among the training processes of this node: distributed.threads_per_rank) and the allocator."""
    import torch

    from .distributed import threads_per_rank

    torch.set_num_threads(threads_per_rank())
    tune_allocator()


def quiet_trainer(trainer: Any) -> None:
    """Under ``--quiet`` a transformers Trainer prints nothing: drop its printer callbacks.

    With ``disable_tqdm`` the Trainer falls back to printing every log dict; our own callbacks
    still write the logs to files.
    """
    if not ui.is_quiet():
        return
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)


def _glibc_function(name: str) -> Any:
    """A function of glibc (``mallopt``, ``malloc_trim``), or None off Linux/glibc (musl ...)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def tune_allocator() -> bool:
    """Keep freed blocks of up to 32 MiB in glibc's heap instead of unmapping them.

    A training step allocates and frees the same few-MiB activation tensors over and over; with
    glibc's default (dynamic) mmap threshold many of them are fresh mmaps, so every step pays
    page faults again. Measured on the RL step (2 cores): the policy's forward pass took
    1.07-2.16 s from step to step without this, 0.96-1.02 s with it. Same effect as the
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables, set from inside.
    Linux/glibc only; ``INSTRUCTFORGE_MALLOC_TUNING=0`` turns it off. Returns whether it applied.
    """
    mallopt = None if os.environ.get("INSTRUCTFORGE_MALLOC_TUNING", "1") == "0" else _glibc_function("mallopt")
    if mallopt is None:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return all(
        mallopt(opt, val) == 1
        for opt, val in ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20))
    )


def release_memory() -> None:
    """Hand what finished work freed back to the operating system: collect reference cycles,
    then ``malloc_trim`` (glibc keeps freed memory in its heaps, and ``tune_allocator`` asks it to
    keep up to 1 GiB). For one process that runs stage after stage (``instructforge experiment``)."""
    import gc

    gc.collect()
    malloc_trim = _glibc_function("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)


def fix_adapter_base(out_dir: Path, base_dir: Path) -> None:
    """adapter_config.json must name the base as a local dir path (backends.local.load_hf_model)."""
    p = out_dir / "adapter_config.json"
    if p.is_file():
        cfg = json.loads(p.read_text())
        cfg["base_model_name_or_path"] = str(base_dir.resolve())
        atomic_write(p, json.dumps(cfg, indent=2) + "\n")


def trainable(
    base_dir: Path, r: int, alpha: int, dropout: float, target_modules: list[str]
) -> tuple[Any, Any, Any, Path]:
    """(model, tokenizer, LoRA config or None, the true base dir): a new LoRA on a base model, or
    the adapter of an adapter dir trained further (then no new LoRA config)."""
    from peft import LoraConfig

    from ..models.backends.model_files import load_hf_model, resolve_adapter_base

    model, tok = load_hf_model(base_dir, trainable=True)
    is_adapter = (base_dir / "adapter_config.json").is_file()
    lora = (
        None
        if is_adapter
        else LoraConfig(
            r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules), task_type="CAUSAL_LM"
        )
    )
    return model, tok, lora, resolve_adapter_base(base_dir)
