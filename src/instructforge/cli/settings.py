"""Click commands whose options come from config dataclasses (config.py).

``@settings_command("generate", cfg=GenerateConfig, model=ModelConfig)`` adds to a click command:
a flag for every field marked ``flag=True`` (help, default, choices and range from the field),
``--set name=value`` (repeatable) for every field, and ``--config FILE``. When the command runs,
the global ``--config``, the command's ``--config``, ``--set`` and the flags given are merged in
that order, every value is checked, and the function receives one instance per class
(``cfg=GenerateConfig(...)``, ``model=ModelConfig(...)``); bad settings are an InputError (one
line naming the file and line, exit 2) before the command does anything.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..api.registry import cli_commands
from ..core.errors import InputError
from ..core.settings import (
    Settings,
    Source,
    Spec,
    check_own_section,
    file_source,
    flag_name,
    read_mapping,
    set_source,
)
from .common import command_object, known_commands

SETTINGS_ATTR = "instructforge_settings"


def _is_bool(t: Any) -> bool:
    return t is bool or (typing.get_origin(t) is not None and set(typing.get_args(t)) == {bool, type(None)})


def _is_list(t: Any) -> bool:
    if typing.get_origin(t) in (list, tuple):
        return True
    return any(typing.get_origin(a) in (list, tuple) for a in typing.get_args(t))


def _metavar(t: Any) -> str:
    """INTEGER, NUMBER, TEXT; a union without its null (``int | Literal["auto"]`` -> INTEGER|auto)."""
    args = typing.get_args(t) if typing.get_origin(t) is not None else (t,)
    names = []
    for a in args:
        if a is type(None):
            continue
        if typing.get_origin(a) is typing.Literal:
            names += [str(x) for x in typing.get_args(a)]
        else:
            names.append({int: "INTEGER", float: "NUMBER", str: "TEXT", Path: "PATH"}.get(a, "VALUE"))
    return "|".join(names)


def _help(s: Spec) -> str:
    parts = [s.help.rstrip(".") + "." if s.help else ""]
    if s.describe_range() and not s.choices:
        parts.append(f"Range {s.describe_range()}.")
    if not s.required and s.default is not None:  # a None default is explained by the help
        d = s.default
        shown = ", ".join(map(str, d)) if isinstance(d, list | tuple) else str(d)
        parts.append(f"[default: {shown or 'none'}]")
    return " ".join(p for p in parts if p)


def _flag_option(s: Spec) -> Callable[[Any], Any]:
    name = flag_name(s)
    assert name is not None
    dest = "flag__" + s.name.replace(".", "__")
    if _is_bool(s.type):
        neg = "--no-" + name[2:]
        return click.option(f"{name}/{neg}", dest, default=None, help=_help(s))
    if _is_list(s.type):
        return click.option(name, dest, multiple=True, default=(), metavar="TEXT", help=_help(s) + " Repeatable.")
    ctype: Any = click.Choice([str(c) for c in s.choices]) if s.choices else click.STRING
    metavar = None if s.choices else _metavar(s.type)
    return click.option(name, dest, default=None, type=ctype, metavar=metavar, help=_help(s))


def global_config_file() -> str | None:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().params.get("config_file") if ctx is not None else None


def gather(settings: Settings, kwargs: dict[str, Any], known_commands: list[str]) -> dict[str, Any]:
    """Pop this command's settings arguments out of ``kwargs``; the checked, merged values."""
    sources: list[Source] = []
    glob = global_config_file()
    if glob:
        src = file_source(glob, settings.command, known_commands, sectioned_only=True)
        if src is not None:
            sources.append(src)
    own = kwargs.pop("settings_config", None)
    if own:
        src = file_source(own, settings.command, known_commands, setting_names=settings.specs)
        if src is not None:
            sources.append(src)
    sources.append(set_source(kwargs.pop("settings_set", ()) or ()))
    flags = Source({}, {})
    for s in settings.specs.values():
        dest = "flag__" + s.name.replace(".", "__")
        if dest not in kwargs:
            continue
        v = kwargs.pop(dest)
        if v is None or v == ():
            continue
        where = f"{flag_name(s)} {v}"
        if isinstance(v, bool):
            flags.values[s.name], flags.where[s.name] = v, where
        elif isinstance(v, tuple):
            flags.values[s.name], flags.where[s.name] = list(v), where
        else:
            flags.add(s.name, v, where)
    sources.append(flags)
    return settings.resolve(sources)


def settings_command(command: str, **classes: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a click command function (below ``@click.command``): see the module docstring."""
    settings = Settings(command, list(classes.values()))

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = gather(settings, kwargs, list(cli_commands()))  # section names: the top-level commands
            built = settings.build(values)
            return func(*args, **dict(zip(classes, built, strict=True)), **kwargs)

        opts = [_flag_option(s) for s in settings.specs.values() if s.flag]
        opts.append(
            click.option(
                "--set",
                "settings_set",
                multiple=True,
                metavar="NAME=VALUE",
                help=f"Any setting (`instructforge config show {command}` lists them all).",
            )
        )
        opts.append(
            click.option(
                "--config",
                "settings_config",
                default=None,
                metavar="FILE",
                type=click.Path(dir_okay=False, path_type=Path),
                help="YAML/JSON settings for this command (or command sections).",
            )
        )
        for o in reversed(opts):
            wrapper = o(wrapper)
        setattr(wrapper, SETTINGS_ATTR, settings)
        return wrapper

    return decorate


def flag_given(name: str) -> bool:
    """Whether the flag of setting ``name`` was typed on the command line."""
    return click.get_current_context().params.get(f"flag__{name}") is not None


def require_own_section(func: Callable[..., Any]) -> Callable[..., Any]:
    """Goes above ``@settings_command``: a command's own ``--config`` that would be read as
    another command's section (``core.settings.check_own_section``) is an error."""
    settings = getattr(func, SETTINGS_ATTR)
    own = set(settings.specs) | settings.nested

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = kwargs.get("settings_config")
        if path is not None:
            check_own_section(path, settings.command, known_commands(), own)
        return func(*args, **kwargs)

    return wrapper


def check_global_config(path: str) -> None:
    """Every command section of a global --config file, checked before anything runs."""
    names = known_commands()
    data = read_mapping(path)
    for group, section in data.items():  # sections of command groups name known subcommands
        subs = [n.split(" ", 1)[1] for n in names if n.startswith(f"{group} ")]
        if subs and isinstance(section, dict):
            for key in section:
                if key not in subs:
                    raise InputError(
                        f"{path}: unknown command '{group} {key}' in config ({group} has {', '.join(subs)})"
                    )
    for name in names:
        src = file_source(path, name, names, sectioned_only=True)
        settings = getattr(command_object(name).callback, SETTINGS_ATTR, None)
        if src is None:
            continue
        if settings is None:
            raise InputError(f"{path}: {name!r} has no settings to configure")
        settings.resolve([src])
