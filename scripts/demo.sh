#!/usr/bin/env bash
# The main job on the embedded model: a small Self-Instruct run, its export and its report.
# Resumable: rerunning continues where a killed run stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-runs/demo}
N=${DEMO_N:-12}
.venv/bin/instructforge generate --out "$OUT" --num-instructions "$N" --model embedded --seed 0
.venv/bin/instructforge export "$OUT" --format alpaca --out "$OUT/exports/alpaca.json"
.venv/bin/instructforge report "$OUT" --out "$OUT/report.html"
echo "dataset: $OUT/exports/alpaca.json"
echo "report:  $(cd "$OUT" && pwd)/report.html"
