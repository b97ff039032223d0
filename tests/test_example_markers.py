"""The small example runs reduced values to fit a 2-core CPU; every reduced value says so on its
own line (``# SMALL (paper: ...)``), so nobody mistakes it for the paper's setting."""

import re
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).parents[1] / "examples" / "refine_af_small" / "experiment.yaml"
# setting -> the paper's value: a different value in the example must be marked SMALL
PAPER = {
    "max_instances": 100,
    "num_instructions": 52000,
    "instance_max_tokens": 300,
    "bootstrap_max_tokens": 1024,
    "steps": None,
    "max_completion_length": 300,
    "policy_demos": None,
}


def test_every_reduced_value_is_marked_small_on_its_line():
    lines = EXAMPLE.read_text().splitlines()
    stages = yaml.safe_load(EXAMPLE.read_text())["stages"]
    reduced = {k for st in stages for k, v in (st.get("settings") or {}).items() if k in PAPER and v != PAPER[k]}
    assert "max_instances" in reduced
    for key in reduced:
        for line in lines:
            if re.search(rf"(^|[\s{{,]){key}:", line) and not line.lstrip().startswith("#"):
                assert "# SMALL" in line, line
