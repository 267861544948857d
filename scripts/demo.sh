#!/usr/bin/env bash
# The README's main command: installs dependencies (if missing), builds,
# fetches stories15M, generates a story with the fp32 reference engine on the
# CPU (printing tokens/s), quantizes the model with the 2/4/16 mixed scheme
# at 2.91 bits per weight, shows what the package stores, and generates from
# the quantized weights.
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

echo "== mixq generate (fp32 reference engine, $(nproc) CPU threads)"
"$mixq" generate --model "$model" --prompt "$prompt" -n 256
echo

package="$build/demo/stories15M-mixed-2.91.mixq"
mkdir -p "$(dirname "$package")"
echo "== mixq quantize --scheme mixed --bpw 2.91 (calibrated on the KJV Bible)"
log="$build/demo/quantize.log"
if ! "$mixq" quantize --model "$model" --scheme mixed --bpw 2.91 -o "$package" 2>"$log"; then
  cat "$log" >&2
  exit 1
fi
"$mixq" inspect "$package" | grep "bits per weight"

echo "== mixq generate from the package (dequantized weights on the same engine)"
"$mixq" generate --model "$package" --prompt "$prompt" -n 256
