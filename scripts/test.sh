#!/usr/bin/env bash
# The whole test suite, as CI runs it (`make test`): a real vLLM server of the embedded model is
# started first (scripts/vllm_server.sh, eager: no torch.compile, so a cold start is ~1.5 min, not
# ~15; its warm-up overlaps the first tests, and
# tests/scaling/test_vllm_server.py waits for it, uses it and stops it), then pytest. vLLM is
# required here: its tests fail instead of skipping when .venv-vllm is missing. The static checks
# (scripts/lint.sh: ruff check, ruff format --check, mypy) run during the server's warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTRUCTFORGE_VLLM_EAGER=1 bash scripts/vllm_server.sh start
trap 'bash scripts/vllm_server.sh stop >/dev/null 2>&1 || true' EXIT
bash scripts/lint.sh
INSTRUCTFORGE_REQUIRE_VLLM=1 .venv/bin/python -m pytest "$@"
