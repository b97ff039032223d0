#!/usr/bin/env bash
# Static checks, run by CI before the tests (scripts/test.sh): lint, formatting, types, import layers.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports  # the layers and independence contracts of pyproject.toml ([tool.importlinter])
