#!/usr/bin/env bash
# The README's test command: installs dependencies (if missing), builds, and
# runs every test (lit + GoogleTest + end-to-end) through one ctest run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j2 --timeout 1500 "$@"
