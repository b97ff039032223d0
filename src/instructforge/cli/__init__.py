"""The ``instructforge`` command (the only package that imports click): ``main`` in main.py, one
module per command group, the settings flags in settings.py. ``python -m instructforge.cli`` runs it."""

from __future__ import annotations

from .main import cli, main

__all__ = ["cli", "main"]
