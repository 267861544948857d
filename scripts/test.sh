#!/usr/bin/env bash
# The README's test command: installs dependencies (if missing), builds, and
# runs every test (lit + GoogleTest + end-to-end) through one ctest run.
# Then the hardening step (docs/Hardening.md): scripts/sanitize.sh builds
# ./build-san with ASan + UBSan, runs the sanitized unit and lit suites and
# the fuzz regressions, and fuzzes each target for 20 s
# (MIXQ_FUZZ_SECONDS). It is skipped when ctest arguments select a subset
# or MIXQ_SKIP_SANITIZE=1; a failure there fails the script like any other.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j2 --timeout 1500 "$@"
if [ $# -eq 0 ] && [ "${MIXQ_SKIP_SANITIZE:-0}" != 1 ]; then
  bash "$root/scripts/sanitize.sh" --fuzz-seconds "${MIXQ_FUZZ_SECONDS:-20}"
fi
