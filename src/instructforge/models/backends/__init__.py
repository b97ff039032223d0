"""Model backends and the ``--model SPEC`` parser.

Specs: ``embedded`` (default), ``hf:DIR``, ``openai:MODEL``, ``vllm:DIR``, ``scripted:FILE``
(the one list: registry.py). Backends are imported lazily so that ``--help`` and the scripted
backend never load torch.
"""

from __future__ import annotations

from .base import Backend, BackendOptions
from .registry import VALID_SPECS, load_backend, model_identity, parse_spec

__all__ = ["Backend", "BackendOptions", "VALID_SPECS", "load_backend", "model_identity", "parse_spec"]
