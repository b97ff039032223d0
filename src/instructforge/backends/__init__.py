"""Model backends and the ``--model SPEC`` parser.

Specs: ``embedded`` (default), ``hf:DIR``, ``openai:MODEL``, ``vllm:DIR``, ``scripted:FILE``.
Backends are imported lazily so that ``--help`` and the scripted backend never load torch.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Backend, BackendOptions

VALID_SPECS = "embedded, hf:DIR, openai:MODEL (with --base-url), vllm:DIR, scripted:FILE"


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a model spec into (kind, argument); unknown forms are an InputError."""
    spec = (spec or "").strip()
    if spec == "embedded":
        return "embedded", ""
    kind, sep, arg = spec.partition(":")
    if sep and kind in {"hf", "openai", "vllm", "scripted"} and arg:
        return kind, arg
    raise InputError(f"unknown model spec {spec!r}; valid forms: {VALID_SPECS}")


def load_backend(spec: str, options: BackendOptions | None = None) -> Backend:
    """Build the backend a spec names. Raises InputError for a bad spec or missing path."""
    kind, arg = parse_spec(spec)
    options = options or BackendOptions()
    if kind == "scripted":
        from .scripted import ScriptedBackend

        return ScriptedBackend(arg, batch_size=options.batch_size)
    if kind == "openai":
        from .openai_compat import OpenAIBackend

        return OpenAIBackend(arg, options)
    if kind == "vllm":
        from .vllm import VLLMBackend

        return VLLMBackend(arg, options)
    from .local import load_local

    return load_local(None if kind == "embedded" else arg, options)


__all__ = ["Backend", "BackendOptions", "VALID_SPECS", "load_backend", "parse_spec"]


def model_identity(spec: str, options: BackendOptions | None = None) -> str:
    """The model's identity for the cache, computed without loading any weights."""
    kind, arg = parse_spec(spec)
    options = options or BackendOptions()
    if kind == "scripted":
        from .scripted import ScriptedBackend

        return ScriptedBackend(arg).model_id
    if kind == "openai":
        import os

        base = options.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return f"openai:{base.rstrip('/')}:{arg}:{options.api}"
    from .model_files import dir_digest, resolve_model_dir

    if kind == "vllm":
        from pathlib import Path

        p = Path(arg)
        return f"vllm:{p.resolve()}@{dir_digest(p)[:16] if p.is_dir() else arg}"
    from .engines import resolve_engine_name

    _, ident = resolve_model_dir(None if kind == "embedded" else arg)
    return f"{ident}#{resolve_engine_name(options.engine)}"
