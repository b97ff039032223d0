# Two commands do everything on a fresh machine:
#   make demo   -> set up .venv, run a small Self-Instruct generate on the embedded model, write its report
#   make test   -> set up .venv (+ headless Chromium for the report test, + vLLM's CPU build in
#                  .venv-vllm for the real-server tests), run the test suite
.PHONY: setup demo test test-fast lint bench fresh-check

.venv/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: .venv/.installed

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/install_browser.sh
	bash scripts/vllm_server.sh install
	bash scripts/test.sh

test-fast: setup
	.venv/bin/python -m pytest -m "not slow and not browser"

lint: setup
	bash scripts/lint.sh

# `make test` as a new machine runs it: fresh clone, HOME (every cache) in a temporary directory
fresh-check:
	bash scripts/fresh_check.sh
