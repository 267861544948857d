#!/usr/bin/env bash
# The hardening suite (docs/Hardening.md): builds mixq with AddressSanitizer +
# UBSan and the libFuzzer targets into ./build-san (MIXQ_SANITIZE=ON,
# MIXQ_FUZZ=ON), runs the sanitized unit and lit suites (the hostile-file
# corpus included) and every fuzz target's regression inputs through ctest
# (the end-to-end tests, which need stories15M, are left to the normal
# build), then fuzzes each target for --fuzz-seconds N (default 0: none).
#
#   bash scripts/sanitize.sh [--fuzz-seconds N] [extra ctest arguments]
#
# MIXQ_SAN_BUILD_DIR overrides the build directory, MIXQ_JOBS the build's
# parallelism. Any sanitizer report fails the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_SAN_BUILD_DIR:-$root/build-san}"
fuzzSeconds=0
if [ "${1:-}" = "--fuzz-seconds" ]; then
  fuzzSeconds="$2"
  shift 2
fi

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f "$build/build.ninja" ]; then
  # -O1: sanitized code builds faster and still runs the suite quickly.
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld "${launcher[@]}" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DMIXQ_SANITIZE=ON -DMIXQ_FUZZ=ON
fi
cmake --build "$build" ${MIXQ_JOBS:+-j "$MIXQ_JOBS"}

# Sanitizer reports are fatal and name their source lines; leaks count.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 1500 -LE e2e "$@"

if [ "$fuzzSeconds" != 0 ]; then
  MIXQ_SAN_BUILD_DIR="$build" bash "$root/scripts/fuzz.sh" "$fuzzSeconds"
fi
