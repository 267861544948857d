#!/usr/bin/env bash
# The README's main command: installs dependencies (if missing), builds,
# fetches stories15M, quantizes it with the 2/4/16 mixed scheme at 2.91 bits
# per weight (calibrated on the KJV Bible; the embedding table, which is
# also the head, as int8 rows), compiles the package for this
# CPU, generates a story with the compiled module (printing tokens/s), checks
# its logits against the reference engine and prints its perplexity on a
# held-out KJV excerpt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" >/dev/null
mixq="$build/bin/mixq"
prompt="${MIXQ_PROMPT:-Once upon a time}"

echo "== mixq fetch stories15M"
model="$("$mixq" fetch stories15M | tail -n 1)"
echo "   $model"

package="$build/demo/stories15M-mixed-2.91.mixq"
library="$build/demo/stories15M-mixed-2.91.so"
mkdir -p "$(dirname "$package")"
echo "== mixq quantize --scheme mixed --bpw 2.91 --table-bits 8 (calibrated on the KJV Bible)"
log="$build/demo/quantize.log"
if ! "$mixq" quantize --model "$model" --scheme mixed --bpw 2.91 --table-bits 8 \
    -o "$package" 2>"$log"; then
  cat "$log" >&2
  exit 1
fi
"$mixq" inspect "$package" | grep "bits per weight"

echo "== mixq compile (x86, this CPU)"
"$mixq" compile "$package" -o "$library" --time

echo "== mixq run (the compiled module, $(nproc) threads)"
"$mixq" run "$library" --package "$package" --prompt "$prompt" -n 256
echo

echo "== mixq verify (compiled logits vs the reference engine, same weights)"
"$mixq" verify "$library" --package "$package" --text "$root/test/e2e/Inputs/kjv-excerpt.txt"

echo "== mixq ppl (the compiled module, held-out KJV excerpt)"
"$mixq" ppl --model "$library" --package "$package" --text "$root/test/e2e/Inputs/kjv-excerpt.txt"
