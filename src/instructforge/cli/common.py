"""What the command modules share: the command table built from the registry (``COMMANDS``,
``command_object``, ``known_commands``) and the table of model calls printed after a command."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from ..api.registry import cli_commands
from ..core import ui

if TYPE_CHECKING:
    from ..api.run import LLM, Stats

COMMANDS = cli_commands()  # name -> (module, attr), from the one list of commands


def command_object(name: str) -> click.Command:
    """The click command for "generate" or "evaluate superni" (an InputError if there is none)."""
    from ..core.errors import InputError

    parts = name.split()
    if not parts or parts[0] not in COMMANDS:
        raise InputError(f"unknown command {name!r}; commands: {', '.join(known_commands())}")
    module, attr = COMMANDS[parts[0]]
    cmd: click.Command = getattr(importlib.import_module(module), attr)
    for p in parts[1:]:
        sub = cmd.commands.get(p) if isinstance(cmd, click.Group) else None
        if sub is None:
            raise InputError(f"unknown command {name!r}; commands: {', '.join(known_commands())}")
        cmd = sub
    return cmd


def known_commands() -> list[str]:
    """Every command name, subcommands as "evaluate superni" (groups are loaded to list them)."""
    out = []
    for name in COMMANDS:
        module, attr = COMMANDS[name]
        cmd = getattr(importlib.import_module(module), attr)
        out += [f"{name} {sub}" for sub in cmd.commands] if isinstance(cmd, click.Group) else [name]
    return out


def print_llm_summary(llm: LLM | Stats, title: str = "model calls") -> None:
    from ..api.run import Stats  # imported when used: `instructforge --help` loads no stage

    s = llm if isinstance(llm, Stats) else llm.stats
    ui.show(
        ui.table(
            title,
            ["requests", "cache hits", "cache misses", "prompt tok", "completion tok", "tok/s"],
            [
                [
                    s.requests,
                    s.cache_hits,
                    s.cache_misses,
                    s.prompt_tokens,
                    s.completion_tokens,
                    s.as_dict()["tokens_per_second"] or "-",
                ]
            ],
        )
    )
    if not ui.is_quiet():
        ui.console.print(f"cache: {s.cache_hits} hits, {s.cache_misses} misses", highlight=False)
