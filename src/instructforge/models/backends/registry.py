"""The one list of backend kinds: ``--model SPEC`` forms, their classes, their cache identities.

Each kind names its class by module path and is imported only when a spec of that kind is
loaded or identified, so ``--help`` and the scripted backend never import torch. Everything
that lists the kinds comes from ``KINDS``: the spec help (``VALID_SPECS``, ``SPEC_FORMS``), the
parser (``parse_spec``), ``load_backend`` and the cache identity (``model_identity``, which
equals the built backend's ``model_id`` and never loads weights).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ...core.errors import InputError
from .base import Backend, BackendOptions


@dataclass(frozen=True, slots=True)
class BackendKind:
    """One ``--model`` form: ``name`` alone (no argument) or ``name:ARG``."""

    name: str
    arg: str | None  # what follows ``name:`` (shown in the help), None: the spec is the bare name
    target: str  # "module:Class", module relative to this package
    note: str = ""  # shown after the form in the list of valid forms

    @property
    def form(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg}"

    def backend_class(self) -> type[Backend]:
        module, _, cls = self.target.partition(":")
        found: type[Backend] = getattr(importlib.import_module(module, __package__), cls)
        return found


KINDS: dict[str, BackendKind] = {
    k.name: k
    for k in (
        BackendKind("embedded", None, ".local:LocalBackend"),
        BackendKind("hf", "DIR", ".local:LocalBackend"),
        BackendKind("openai", "MODEL", ".openai_compat:OpenAIBackend", note="with --base-url"),
        BackendKind("vllm", "DIR", ".vllm:VLLMBackend"),
        BackendKind("scripted", "FILE", ".scripted:ScriptedBackend"),
    )
}

#: the valid forms, for error messages: "embedded, hf:DIR, openai:MODEL (with --base-url), ..."
VALID_SPECS = ", ".join(k.form + (f" ({k.note})" if k.note else "") for k in KINDS.values())
#: the valid forms, for ``--model`` help: "embedded | hf:DIR | openai:MODEL | ..."
SPEC_FORMS = " | ".join(k.form for k in KINDS.values())


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a model spec into (kind, argument; "" for a bare kind); unknown forms are an InputError.

    >>> parse_spec("hf:out/sft"), parse_spec("embedded")
    (('hf', 'out/sft'), ('embedded', ''))
    """
    spec = (spec or "").strip()
    if spec in KINDS and KINDS[spec].arg is None:
        return spec, ""
    name, sep, arg = spec.partition(":")
    kind = KINDS.get(name)
    if sep and arg and kind is not None and kind.arg is not None:
        return name, arg
    raise InputError(f"unknown model spec {spec!r}; valid forms: {VALID_SPECS}")


def _resolve(spec: str, options: BackendOptions | None) -> tuple[type[Backend], str | None, BackendOptions]:
    name, arg = parse_spec(spec)
    kind = KINDS[name]
    return kind.backend_class(), (arg if kind.arg is not None else None), options or BackendOptions()


def load_backend(spec: str, options: BackendOptions | None = None) -> Backend:
    """Build the backend a spec names. Raises InputError for a bad spec or missing path."""
    cls, arg, options = _resolve(spec, options)
    return cls.from_spec(arg, options)


def model_identity(spec: str, options: BackendOptions | None = None) -> str:
    """The model's identity for the cache (``load_backend(spec).model_id``), without loading weights."""
    cls, arg, options = _resolve(spec, options)
    return cls.identity(arg, options)
