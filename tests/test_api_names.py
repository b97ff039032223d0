"""The public API at the package top level: every name resolves, lazily, to what the docs say,
whatever has been imported before (a subpackage of the same name would shadow a function)."""

from __future__ import annotations

import subprocess
import sys


def test_every_exported_name_resolves_and_functions_stay_functions():
    code = """
import sys, inspect
import instructforge as inf
assert "torch" not in sys.modules, "import instructforge must not load torch"
for name in inf.__all__:
    getattr(inf, name)
# the config classes import their packages; the functions must still be the functions
cfgs = [inf.RefineConfig, inf.ReportConfig, inf.ScoreConfig, inf.SFTConfig, inf.SuperNIConfig]
import instructforge.refine_af.rl, instructforge.reports.html, instructforge.quality.cli
for name in ("refine", "report", "score", "finetune", "generate", "compare", "induce", "evaluate_superni"):
    f = getattr(inf, name)
    assert inspect.isfunction(f), (name, f)
    assert f.__module__.startswith("instructforge.api"), (name, f.__module__)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
