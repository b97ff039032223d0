#!/usr/bin/env bash
# Optional: build llama-cpp-python into .venv for `--engine llamacpp` and benchmarks/engines.py.
# It ships only as an sdist (a 4-5 min compile on 2 idle cores), so it is not a dependency.
#
# Build flags: the CPU features are named one by one instead of GGML_NATIVE=ON, because
# -march=native on a Sapphire Rapids VM also compiles ggml's AMX kernels, and those crashed
# (SIGSEGV in ggml_backend_amx_mul_mat) in the first llama_decode here: the hypervisor does not
# hand AMX tile state to guests. AVX-512 (with VNNI/VBMI/BF16) is used where /proc/cpuinfo
# lists it, AVX2 otherwise. `diskcache` is a runtime import of llama_cpp that its sdist does
# not declare when installed with --no-deps (which keeps the pinned torch untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"

flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
flags="$flags -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
flags="$flags -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
has() { grep -q -w "$1" /proc/cpuinfo; }
has bmi2 && flags="$flags -DGGML_BMI2=ON"
has avx_vnni && flags="$flags -DGGML_AVX_VNNI=ON"
if has avx512f; then
    flags="$flags -DGGML_AVX512=ON"
    has avx512_vnni && flags="$flags -DGGML_AVX512_VNNI=ON"
    has avx512vbmi && flags="$flags -DGGML_AVX512_VBMI=ON"
    has avx512_bf16 && flags="$flags -DGGML_AVX512_BF16=ON"
fi
echo "install_llamacpp.sh: llama-cpp-python==$VERSION with $flags" >&2
CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip install --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION"
"$PY" -m pip install diskcache
"$PY" -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__)"
