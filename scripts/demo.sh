#!/usr/bin/env bash
# The README's main command: installs dependencies (if missing), builds, then
# parses, verifies and round-trips a sample mixq module and reports the exact
# bits per weight of each layout in it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" >/dev/null
sample="$root/docs/examples/llama-layer.mlir"

echo "== parse, verify and print $sample"
"$build/bin/mixq-opt" "$sample" -o /tmp/mixq-demo.$$.mlir
echo "== round trip: print -> parse -> print is stable"
if "$build/bin/mixq-opt" /tmp/mixq-demo.$$.mlir | diff -q - /tmp/mixq-demo.$$.mlir >/dev/null; then
  echo "   identical"
else
  echo "demo: printing the parsed module again changed it" >&2
  rm -f /tmp/mixq-demo.$$.mlir
  exit 1
fi
rm -f /tmp/mixq-demo.$$.mlir
echo "== exact storage of each weight (mixq-opt --mixq-storage-report)"
"$build/bin/mixq-opt" "$sample" --mixq-storage-report -o /dev/null 2>&1 \
  | sed -n 's/.*remark: /   /p'
