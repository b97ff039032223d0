"""The backends package has no import cycle: every module imports alone and in any order, no
module imports a sibling inside a function (only heavy third-party libraries are imported
lazily), and importing any of them loads no torch."""

from __future__ import annotations

import ast
import pkgutil
import random
import subprocess
import sys
from pathlib import Path

import instructforge.models.backends as backends_pkg

PKG = "instructforge.models.backends"
MODULES = sorted(m.name for m in pkgutil.iter_modules(backends_pkg.__path__))
HEAVY = ("torch", "transformers", "ctranslate2", "llama_cpp", "vllm", "aiohttp", "peft", "numpy")


def _import_in_fresh_python(modules: list[str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        f"    importlib.import_module('{PKG}.' + m)\n"
        f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_each_module_imports_alone_without_heavy_libraries():
    assert {
        "registry",
        "decoding",
        "model_files",
        "engines",
        "engine_ct2",
        "ct2_convert",
        "ct2_plan",
        "engine_llamacpp",
        "engine_transformers",
        "local",
    } <= set(MODULES)
    for m in MODULES:
        p = _import_in_fresh_python([m])
        assert p.returncode == 0, f"{m}:\n{p.stderr}"
        assert p.stdout.strip() == "[]", f"importing {m} loaded {p.stdout.strip()}"


def test_modules_import_in_any_order():
    rng = random.Random(14)
    orders = [MODULES, MODULES[::-1]]
    for _ in range(3):
        order = MODULES[:]
        rng.shuffle(order)
        orders.append(order)
    for order in orders:
        p = _import_in_fresh_python(order)
        assert p.returncode == 0, f"{order}:\n{p.stderr}"


def test_no_function_level_imports_between_package_modules():
    """Inside a function only third-party libraries are imported (the heavy ones, lazily)."""
    root = Path(backends_pkg.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (
                    node.level > 0 or (node.module or "").startswith("instructforge")
                ):
                    found.append(f"{path.name}:{node.lineno}")
                if isinstance(node, ast.Import) and any(a.name.startswith("instructforge") for a in node.names):
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []
