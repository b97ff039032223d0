"""``instructforge config show COMMAND``: every setting of a command, from its config dataclasses."""

from __future__ import annotations

import json

import click
from rich.console import Console

from ..core import ui
from ..core.errors import InputError


@click.group()
def config() -> None:
    """Settings of the commands (the fields --config files, --set and the flags set)."""


@config.command("show")
@click.argument("command", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def show(command: tuple[str, ...], as_json: bool) -> None:
    """Print every setting of COMMAND with its type, default, range and help.

    Example: instructforge config show generate
    """
    from .common import command_object
    from .settings import SETTINGS_ATTR

    name = " ".join(command)
    settings = getattr(command_object(name).callback, SETTINGS_ATTR, None)
    if settings is None:
        raise InputError(f"{name!r} has no settings (its options are all in --help)")
    rows = settings.rows()
    if as_json:
        click.echo(json.dumps({"command": name, "settings": rows}, indent=2))
        return
    table = ui.table(
        f"instructforge {name}: settings (--config FILE, --set NAME=VALUE, or the flag)",
        ["name", "type", "default", "range", "flag", "help"],
        [
            [
                r["name"],
                r["type"],
                "(required)" if r["required"] else json.dumps(r["default"]),
                r["range"],
                r["flag"] or "",
                r["help"],
            ]
            for r in rows
        ],
    )
    out = Console()
    if not out.is_terminal:
        out = Console(width=200)  # piped: do not fold names to a terminal's width
    out.print(table)  # the command's result: stdout
