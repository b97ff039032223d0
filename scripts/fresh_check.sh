#!/usr/bin/env bash
# `make test` as a brand-new machine runs it: a fresh clone of HEAD in a temporary directory, with
# HOME (so ~/.cache/vllm, ~/.cache/instructforge with the converted model and the call cache, and
# pip's cache) in a temporary directory too, and no XDG_CACHE_HOME. Nothing of an earlier run is
# reused, so a test that depends on leftovers fails here. Prints the wall time of the whole run
# (set-up included) and keeps the log.
#
#   bash scripts/fresh_check.sh [WORKDIR]   # default: a new mktemp -d; log: WORKDIR/ci.log
#
# Debian packages (Chromium for the browser test) are system-wide and stay installed: apt is not
# undone. ../shared (the test data mirror) is linked beside the clone, as CI lays it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-$(mktemp -d)}
mkdir -p "$W/home"
git clone -q "$SRC" "$W/main"
[[ -e $SRC/../shared ]] && ln -sfn "$(cd "$SRC/../shared" && pwd)" "$W/shared"
t0=$SECONDS
set +e
(cd "$W/main" && env -u XDG_CACHE_HOME -u INSTRUCTFORGE_CACHE_DIR HOME="$W/home" CI=true bash .ci/run) >"$W/ci.log" 2>&1
rc=$?
set -e
echo "fresh_check: exit $rc after $((SECONDS - t0)) s (log: $W/ci.log)"
tail -n 3 "$W/ci.log"
exit $rc
