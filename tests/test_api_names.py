"""The public API at the package top level: every name resolves, lazily, to what the registry
(api/registry.py) says, whatever has been imported before (a subpackage of the same name would
shadow a function); the type checkers' import blocks list the same names; every reference of the
registry resolves, and each stage function takes the inputs the registry declares."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import click

import instructforge
from instructforge.api import registry


def test_every_exported_name_resolves_and_functions_stay_functions():
    code = """
import sys, inspect
import instructforge as inf
from instructforge.api.registry import COMMANDS
assert "torch" not in sys.modules, "import instructforge must not load torch"
for name in inf.__all__:
    getattr(inf, name)
# the config classes import their packages; the functions must still be the functions
cfgs = [inf.RefineConfig, inf.ReportConfig, inf.ScoreConfig, inf.SFTConfig, inf.SuperNIConfig]
import instructforge.train.refine, instructforge.reports.html, instructforge.cli.score
for c in COMMANDS:
    if c.function is None:
        continue
    module, name = c.function.split(":")
    f = getattr(inf, name)
    assert inspect.isfunction(f), (name, f)
    assert f.__module__ == module, (name, f.__module__)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def _type_checking_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                names |= {a.asname or a.name for a in imp.names}
    return names


def test_type_checking_blocks_list_the_registry_names():
    root = Path(instructforge.__file__).parent
    assert _type_checking_names(root / "__init__.py") == set(registry.public_names())
    assert _type_checking_names(root / "api" / "__init__.py") == set(registry.api_names())
    assert set(instructforge.__all__) == {"__version__", *registry.public_names()}
    import instructforge.api as api

    assert set(api.__all__) == set(registry.api_names())


def test_every_registry_reference_resolves():
    names = [c.name for c in registry.COMMANDS]
    assert len(names) == len(set(names)), "a command is listed twice"
    for c in registry.COMMANDS:
        if c.cli is not None:
            assert isinstance(registry.load(c.cli), click.Command), c.name
            assert c.help, f"{c.name}: a top-level command needs its help line"
        else:
            group = c.name.split()[0]
            assert " " in c.name and registry.by_name()[group].cli is not None, c.name
        if c.config is not None:
            cfg = registry.load(c.config)
            assert isinstance(cfg, type) and dataclasses.is_dataclass(cfg), c.name
        if c.function is not None:
            assert inspect.isfunction(registry.load(c.function)), c.name
        assert (c.inputs is None) == (c.stage is None), f"{c.name}: a stage needs both inputs and a stage function"


def test_stage_functions_take_the_declared_inputs():
    for name, c in registry.stages().items():
        assert c.stage is not None and c.inputs is not None
        fn = registry.load(c.stage)
        assert callable(fn)
        params = inspect.signature(fn).parameters
        expected = {"out", *c.inputs, *(["model"] if c.uses_model else []), *(["config"] if c.config else [])}
        assert set(params) == expected, (name, sorted(params), sorted(expected))
        for key, required in c.inputs.items():
            assert (params[key].default is inspect.Parameter.empty) == required, (name, key)


def test_cli_subcommands_of_the_registry_exist():
    for c in registry.COMMANDS:
        if c.cli is None:
            group_name, sub = c.name.split(" ", 1)
            group = registry.load(registry.by_name()[group_name].cli or "")
            assert isinstance(group, click.Group) and sub in group.commands, c.name
