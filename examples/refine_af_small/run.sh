#!/usr/bin/env bash
# REFINE-AF vs Self-Instruct on the embedded model, end to end, in one command:
#   seeds -> generate -> (a) export -> finetune                       = Self-Instruct baseline
#                     -> (b) refine -> generate --from-run -> export -> finetune = REFINE-AF
#   evaluate superni for base, (a), (b) -> compare (a) vs (b), base vs each.
# Every step is skipped when its output is complete, so rerunning resumes.
# Knobs (environment): OUT, N (instructions), STEPS (RL steps), MAX_INSTANCES (SuperNI per task),
# SUPERNI (task dir), INSTRUCTFORGE (the CLI), INSTRUCTFORGE_THREADS (torch threads).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
IF="${INSTRUCTFORGE:-instructforge}"
OUT="${OUT:-runs/refine_af_small}"
N="${N:-20}"
STEPS="${STEPS:-20}"
MAX_INSTANCES="${MAX_INSTANCES:-5}"
SUPERNI="${SUPERNI:-$ROOT/../shared/data/superni}"
mkdir -p "$OUT"
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

say "1. Self-Instruct: $N instructions + instances with the embedded model"
$IF --quiet generate --out "$OUT/si" --num-instructions "$N" --config "$HERE/generate.yaml"

say "2a. Self-Instruct baseline: export + finetune (SFT + LoRA, 2 epochs)"
[ -s "$OUT/si.json" ] || $IF --quiet export "$OUT/si" --format alpaca --out "$OUT/si.json"
[ -f "$OUT/model_si/train_summary.json" ] || $IF --quiet finetune --data "$OUT/si.json" --out "$OUT/model_si"

say "2b. REFINE-AF: RL from automated feedback ($STEPS GRPO steps)"
if [ ! -f "$OUT/refined/refine_summary.json" ]; then
  RESUME=""; [ -d "$OUT/refined/checkpoints" ] && RESUME="--resume"
  $IF --quiet refine "$OUT/si" --out "$OUT/refined" --steps "$STEPS" --config "$HERE/refine.yaml" $RESUME
fi
say "3. instances from the refined model"
$IF --quiet generate --from-run "$OUT/si" --model "hf:$OUT/refined" --out "$OUT/raf" --config "$HERE/generate.yaml"
[ -s "$OUT/raf.json" ] || $IF --quiet export "$OUT/raf" --format alpaca --out "$OUT/raf.json"
say "4. finetune the base model on the REFINE-AF data"
[ -f "$OUT/model_raf/train_summary.json" ] || $IF --quiet finetune --data "$OUT/raf.json" --out "$OUT/model_raf"

say "5. SuperNI ($MAX_INSTANCES instances per task): base, Self-Instruct, REFINE-AF"
for pair in "base:embedded" "si:hf:$OUT/model_si" "raf:hf:$OUT/model_raf"; do
  name="${pair%%:*}"; spec="${pair#*:}"
  [ -f "$OUT/eval_$name/.done" ] && continue
  $IF --quiet evaluate superni --tasks "$SUPERNI" --model "$spec" --out "$OUT/eval_$name" --max-instances "$MAX_INSTANCES"
  touch "$OUT/eval_$name/.done"
done

say "6. compare"
$IF compare "$OUT/eval_si" "$OUT/eval_raf" --out "$OUT/compare_si_vs_raf.json"
$IF compare "$OUT/eval_base" "$OUT/eval_si" --out "$OUT/compare_base_vs_si.json"
$IF compare "$OUT/eval_base" "$OUT/eval_raf" --out "$OUT/compare_base_vs_raf.json"
say "done: $OUT"
