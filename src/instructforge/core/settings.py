"""One configuration system for the CLI, YAML/JSON files and Python.

A command's settings are dataclasses whose fields say everything (as TRL's ``XConfig``):
type, default (the paper's value), help, and choices or range, declared with ``option()``::

    rouge_threshold: float = option(0.7, "Reject an instruction whose ROUGE-L F to any pool "
                                    "instruction is above this (paper: 0.7).", min=0, max=1, flag=True)

From them come: the command's flags (``flag=True`` fields), ``--set name=value`` for every other
field, validation of config files (an unknown key names the file, the line and the closest valid
name; a wrong type or an out-of-range value names the file and line; exit 2, before anything is
written) and ``instructforge config show COMMAND``.

``--config FILE`` means one thing wherever it is given (before or after the command name): the
settings of commands. The file's top level is either command sections (``generate:``,
``evaluate: {superni: ...}``), so one file can serve several commands, or, for the command that
was given it, the settings themselves. Precedence: defaults < the global ``--config`` < the
command's ``--config`` < ``--set`` < flags.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    choices: Sequence[Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    flag: bool | str = False,
) -> Any:
    """A dataclass field with its help, choices or range. ``flag``: offered as a command-line
    flag (True: ``--field-name``; a string: that flag name); every field is reachable with
    ``--set``."""
    meta = {
        "help": help,
        "choices": tuple(choices) if choices is not None else None,
        "min": min,
        "max": max,
        "min_open": min_open,
        "flag": flag,
    }
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# -- describing fields --------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One setting: a dataclass field, or a nested dataclass's field under a dotted name."""

    name: str  # dotted for nested fields: "reward.w_naturalness"
    owner: type
    attr: str
    type: Any
    default: Any
    help: str
    choices: tuple[Any, ...] | None
    min: float | None
    max: float | None
    min_open: bool
    flag: bool | str

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def describe_type(self) -> str:
        return _type_name(self.type)

    def describe_range(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.min is None and self.max is None:
            return ""
        lo = "(" if self.min_open else "["
        return f"{lo}{'-inf' if self.min is None else _num(self.min)}, {'inf' if self.max is None else _num(self.max)}]"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def specs(cls: type, prefix: str = "") -> list[Spec]:
    """Every setting of a config dataclass, nested dataclasses flattened to dotted names."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        t = hints[f.name]
        if isinstance(t, type) and dataclasses.is_dataclass(t):
            out += specs(t, f"{prefix}{f.name}.")
            continue
        m = f.metadata
        out.append(
            Spec(
                prefix + f.name,
                cls,
                f.name,
                t,
                _default_of(f),
                m.get("help", ""),
                m.get("choices"),
                m.get("min"),
                m.get("max"),
                bool(m.get("min_open")),
                m.get("flag", False),
            )
        )
    return out


def _type_name(t: Any) -> str:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(t))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(t) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(t))
    if t is type(None):
        return "null"
    return {int: "integer", float: "number", bool: "true/false", str: "text", Path: "path"}.get(
        t, getattr(t, "__name__", str(t))
    )


# -- checking values ----------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _coerce(t: Any, v: Any) -> Any:
    """``v`` as type ``t``, or _Bad. No silent conversions: "0.1" is not a number."""
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        for a in typing.get_args(t):
            try:
                return _coerce(a, v)
            except _Bad:
                continue
        raise _Bad
    if origin is typing.Literal:
        if v in typing.get_args(t):
            return v
        raise _Bad
    if origin in (list, tuple):
        if isinstance(v, str) or not isinstance(v, list | tuple):
            raise _Bad
        item = [a for a in typing.get_args(t) if a is not Ellipsis]
        vals = [_coerce(item[0], x) for x in v] if item else list(v)
        return tuple(vals) if origin is tuple else vals
    if origin is dict:
        if not isinstance(v, dict):
            raise _Bad
        return dict(v)
    if t is type(None):
        if v is None:
            return None
        raise _Bad
    if t is bool:
        if isinstance(v, bool):
            return v
        raise _Bad
    if t is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise _Bad
    if t is float:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        raise _Bad
    if t is str:
        if isinstance(v, str):
            return v
        raise _Bad
    if t is Path:
        if isinstance(v, str | Path):
            return Path(v)
        raise _Bad
    if t is Any:
        return v
    raise _Bad


def check(spec: Spec, value: Any, where: str) -> Any:
    """The value, validated against the spec; an InputError naming ``where`` otherwise."""
    try:
        v = _coerce(spec.type, value)
    except _Bad:
        raise InputError(f"{where}: {spec.name}: expected {spec.describe_type()}, got {_show(value)}") from None
    if spec.choices and v not in spec.choices and v is not None:
        raise InputError(f"{where}: {spec.name}: {_show(v)} is not {spec.describe_range()}")
    if isinstance(v, int | float) and not isinstance(v, bool):
        too_low = spec.min is not None and (v <= spec.min if spec.min_open else v < spec.min)
        too_high = spec.max is not None and v > spec.max
        if too_low or too_high:
            raise InputError(f"{where}: {spec.name}: {_show(value)} is out of range {spec.describe_range()}")
    return v


def _wants_text(t: Any) -> bool:
    if t in (str, Path):
        return True
    args = typing.get_args(t)
    return (
        typing.get_origin(t) in (typing.Union, types.UnionType)
        and any(a in (str, Path) for a in args)
        and not any(a in (int, float, bool) for a in args)
    )


def _show(v: Any) -> str:
    if isinstance(v, str):
        return f"the text {v!r}"
    return repr(v)


def validate(obj: Any) -> None:
    """Check every field of a config dataclass instance (Python callers get the same checks as
    files and flags); int values of float fields become floats. Call from ``__post_init__``."""
    cls = type(obj)
    for spec in specs(cls):
        if "." in spec.name:
            continue  # a nested config checks itself
        v = check(spec, getattr(obj, spec.attr), cls.__name__)
        object.__setattr__(obj, spec.attr, v)


# -- reading files with line numbers -------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, except that ``5e-5`` and ``1E3`` are numbers (YAML 1.1 wants
    ``5.0e-5``; every other tool a user knows reads them as numbers)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class Source:
    """Settings from one place, with where each came from (for error messages)."""

    values: dict[str, Any]
    where: dict[str, str]  # setting name -> "file:line" or "--set name=value"
    raw: dict[str, str] = dataclasses.field(default_factory=dict)  # command-line text, kept for text settings

    def add(self, name: str, raw: str, where: str) -> None:
        """A value typed on the command line (read as YAML, the text kept for text settings)."""
        self.values[name] = parse_text(raw)
        self.raw[name] = raw
        self.where[name] = where


def yaml_node(path: Path) -> tuple[Any, yaml.Node | None]:
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_Loader)
        data = _load(text)
    except OSError as e:
        raise InputError(f"{path}: cannot read config ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError.at(path, line, f"bad YAML: {getattr(e, 'problem', None) or e}") from None
    return data, node


def key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    """Setting name (dotted) -> 1-based line of its key."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            name = f"{prefix}{k.value}"
            out[name] = k.start_mark.line + 1
            out.update(key_lines(v, name + "."))
    return out


def read_mapping(path: Path | str, what: str = "config") -> dict[str, Any]:
    """The YAML/JSON mapping in ``path`` ({} for an empty file)."""
    path = Path(path)
    data, _ = yaml_node(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError.at(path, 1, f"expected a mapping of {what} fields")
    return data


def flatten(d: Mapping[str, Any], prefix: str = "", nested: Iterable[str] = ()) -> dict[str, Any]:
    """{"reward": {"w": 1}} -> {"reward.w": 1} for the nested config names given."""
    nested = set(nested)
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{str(k).replace('-', '_')}"
        if name in nested and isinstance(v, dict):
            out.update(flatten(v, name + ".", nested))
        else:
            out[name] = v
    return out


def _where_map(path: Path, lines: Mapping[str, int], prefix: str) -> dict[str, str]:
    """Setting name (dotted, ``-`` read as ``_``) -> "file:line", for every key under ``prefix``."""
    return {k[len(prefix) :].replace("-", "_"): f"{path}:{n}" for k, n in lines.items() if k.startswith(prefix)}


def file_source(
    path: Path | str,
    command: str,
    known_commands: Iterable[str] = (),
    *,
    sectioned_only: bool = False,
    setting_names: Iterable[str] = (),
) -> Source | None:
    """The settings ``path`` gives ``command`` ("generate", "evaluate superni"): its section
    when the file's top level is command names (and none is one of the command's own
    ``setting_names``), else (unless ``sectioned_only``) the whole mapping. None when a
    sectioned file has no section for the command."""
    path = Path(path)
    data, node = yaml_node(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InputError.at(path, 1, "a config file must be a mapping (command sections or settings)")
    lines = key_lines(node)
    tops = {str(k) for k in data}
    groups = {c.split(" ")[0] for c in known_commands}
    own = {n.split(".")[0] for n in setting_names}
    if tops and tops <= groups and (sectioned_only or not tops & own):  # command sections
        section: Any = data
        prefix = ""
        for part in command.split(" "):
            if not isinstance(section, dict) or part not in section:
                return None
            section = section[part]
            prefix += part + "."
        if section is None:
            return None
        if not isinstance(section, dict):
            raise InputError.at(path, lines.get(prefix.rstrip(".")), f"section {command!r} must be a mapping")
        return Source({k: v for k, v in section.items()}, _where_map(path, lines, prefix))
    if sectioned_only:
        unknown = sorted(tops - groups)
        hint = difflib.get_close_matches(unknown[0], sorted(groups), n=1)
        raise InputError.at(
            path,
            lines.get(unknown[0]),
            f"unknown command {unknown[0]!r} in config" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
        )
    return Source(dict(data), _where_map(path, lines, ""))


def check_own_section(path: Path | str, command: str, known_commands: Iterable[str], own: Iterable[str]) -> None:
    """A command's own config file whose top-level keys are all command names is read as command
    sections (``file_source``): one holding only ``induce: {k: 3}`` (meant for ``induction
    evaluate``'s nested ``induce.k``) is then the ``induce`` command's section and sets nothing
    for ``command``. That case is an InputError naming the key's line; ``own``: the command's
    setting names (and nested ones)."""
    if file_source(path, command, known_commands) is not None:
        return
    node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    keys = [k for k, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    names = set(own)
    mine = [k for k in keys if str(k.value) in names]
    if mine:
        raise InputError.at(
            path,
            mine[0].start_mark.line + 1,
            (
                f"{mine[0].value!r} alone reads as the {mine[0].value!r} command's section, so the file "
                f"sets nothing for {command!r}: add another setting, or write it under "
                f"`{': '.join(command.split())}:`"
            ),
        )


def set_source(pairs: Iterable[str]) -> Source:
    """``--set name=value`` pairs; values are read as YAML scalars/lists (``0.1``, ``true``,
    ``[a, b]``, ``null``)."""
    src = Source({}, {})
    for p in pairs:
        name, sep, raw = p.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise InputError(f"--set {p}: expected name=value")
        src.add(name, raw, f"--set {p}")
    return src


def parse_text(raw: str) -> Any:
    """A command-line value read as YAML (``0.1``, ``true``, ``[a, b]``, ``null``, ``auto``)."""
    try:
        return _load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


# -- putting it together -------------------------------------------------------------------------


class Settings:
    """The settings of one command: several config dataclasses (e.g. GenerateConfig and
    ModelConfig) under one flat namespace of names."""

    def __init__(self, command: str, classes: Sequence[type]):
        self.command = command
        self.classes = list(classes)
        self.specs: dict[str, Spec] = {}
        for cls in self.classes:
            for s in specs(cls):
                if s.name in self.specs:
                    raise TypeError(f"{command}: setting {s.name!r} defined twice")
                self.specs[s.name] = s
        self.nested = {s.name.rsplit(".", 1)[0] for s in self.specs.values() if "." in s.name}

    def resolve(self, sources: Sequence[Source]) -> dict[str, Any]:
        """Later sources win. Every name and value checked; the merged values by name."""
        merged: dict[str, Any] = {}
        for src in sources:
            flat = flatten(src.values, nested=self.nested)
            for name, value in flat.items():
                where = next((src.where[p] for p in _prefixes(name) if p in src.where), "config")
                spec = self.specs.get(name)
                if spec is None:
                    hint = difflib.get_close_matches(name, list(self.specs), n=1)
                    raise InputError(
                        f"{where}: unknown setting {name!r} for {self.command}"
                        + (
                            f" (did you mean {hint[0]!r}?)"
                            if hint
                            else f" (`instructforge config show {self.command}` lists them)"
                        )
                    )
                if name in src.raw and _wants_text(spec.type):
                    value = src.raw[name]  # `--stop 16.` is the text "16.", not a number
                merged[name] = check(spec, value, where)
        missing = [n for n, s in self.specs.items() if s.required and n not in merged]
        if missing:
            raise InputError(f"{self.command}: {', '.join('--' + m.replace('_', '-') for m in missing)} required")
        return merged

    def build(self, values: Mapping[str, Any]) -> list[Any]:
        """One instance per class, nested dataclasses built from their dotted names."""
        return [self._build(cls, values, "") for cls in self.classes]

    def _build(self, cls: type, values: Mapping[str, Any], prefix: str) -> Any:
        hints = typing.get_type_hints(cls)
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            t = hints[f.name]
            if isinstance(t, type) and dataclasses.is_dataclass(t):
                default = _default_of(f)  # the parent's own default for it (its default_factory) wins
                kw[f.name] = _apply(t() if default is MISSING else default, values, f"{prefix}{f.name}.")
            elif prefix + f.name in values:
                kw[f.name] = values[prefix + f.name]
        return cls(**kw)

    def rows(self) -> list[dict[str, Any]]:
        """For ``config show``: name, type, default, range/choices, flag, help."""
        return [
            {
                "name": s.name,
                "type": s.describe_type(),
                "default": None if s.required else _plain(s.default),
                "required": s.required,
                "range": s.describe_range(),
                "flag": flag_name(s),
                "help": s.help,
            }
            for s in self.specs.values()
        ]


def _apply(obj: Any, values: Mapping[str, Any], prefix: str) -> Any:
    """A copy of config ``obj`` with the values named under ``prefix`` set (nested ones too)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        sub = getattr(obj, f.name)
        if dataclasses.is_dataclass(sub) and any(k.startswith(f"{prefix}{f.name}.") for k in values):
            changes[f.name] = _apply(sub, values, f"{prefix}{f.name}.")
        elif prefix + f.name in values:
            changes[f.name] = values[prefix + f.name]
    return dataclasses.replace(obj, **changes) if changes else obj


def _prefixes(name: str) -> list[str]:
    """ "a.b.c" -> ["a.b.c", "a.b", "a"]: where a nested setting was given, most precise first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def flag_name(s: Spec) -> str | None:
    if not s.flag:
        return None
    return s.flag if isinstance(s.flag, str) else "--" + s.name.replace("_", "-").replace(".", "-")


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, Path):
        return str(v)
    return v


def as_dict(obj: Any) -> dict[str, Any]:
    """A config dataclass as plain data for config.yaml (tuples as lists, paths as text)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return _plain(v)

    out: dict[str, Any] = plain(obj)
    return out
