#!/usr/bin/env bash
# The main job on the embedded model: a small Self-Instruct run, its export and its report.
# Resumable: rerunning continues where a killed run stopped. Only records that pass the paper's
# filters and the validity checks are exported; what the checks rejected is printed by reason.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-runs/demo}
N=${DEMO_N:-12}
.venv/bin/instructforge generate --out "$OUT" --num-instructions "$N" --model embedded --seed 0
.venv/bin/instructforge export "$OUT" --format alpaca --out "$OUT/exports/alpaca.json"
.venv/bin/instructforge report "$OUT" --out "$OUT/report.html"
KEPT=$(.venv/bin/python - "$OUT/summary.json" "$N" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
v = s.get("validity", {})
print("rejected by the validity checks (beyond the paper's filters):", file=sys.stderr)
for what in ("instructions", "instances"):
    for reason, n in v.get(what, {}).items():
        print(f"  {what[:-1]:11} {reason:24} {n}", file=sys.stderr)
kept, asked = s["tasks_accepted"], int(sys.argv[2])
if kept == 0:
    print(f"none of the {asked} requested instructions survived with instances, so the export is empty "
          "rather than junk: the embedded 135M model rarely writes a record worth keeping (a bigger "
          "model gets more: see README)", file=sys.stderr)
elif kept < asked:
    print(f"only {kept} of the {asked} requested instructions survived with instances; the export holds "
          f"those {s['instances']} records and nothing else (a bigger model gets more: see README)", file=sys.stderr)
print(s["instances"])
PY
)
if [ "$KEPT" -gt 0 ]; then
    .venv/bin/instructforge check "$OUT/exports/alpaca.json"
fi
echo "dataset: $OUT/exports/alpaca.json ($KEPT records)"
echo "report:  $(cd "$OUT" && pwd)/report.html"
