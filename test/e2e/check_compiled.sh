#!/bin/sh
# check_compiled.sh MIXQ MODEL_PATH_FILE KJV_TEXT WORK_DIR - the CPU path on
# stories15M: quantize (mixed 2/4/16 at 2.91 bpw, calibrated on the committed
# KJV excerpt; rtn int4 with a quantized embedding/classifier table, and with
# it as int8 rows, --table-bits 8), compile
# each for this CPU, and compare the compiled module with the reference
# engine on the same dequantized weights:
#   - `mixq verify`: logits over a 64-token prefill (every position) and 64
#     greedy decode steps, NMSE below 1e-6 (exits 1 otherwise);
#   - perplexity on the excerpt (4 windows of 255 tokens) equal to three
#     significant digits (relative difference below 5e-4);
#   - greedy text from `mixq run` equals `mixq generate` on the package.
set -eu
mixq=$1 model=$(cat "$2") text=$3 work=$4
rm -rf "$work" && mkdir -p "$work"

check() { # name, quantize flags...
  name=$1; shift
  pkg="$work/$name.mixq" so="$work/$name.so"
  "$mixq" quantize --model "$model" "$@" -o "$pkg" > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log" >&2; exit 1; }
  start=$(date +%s)
  "$mixq" compile "$pkg" -o "$so"
  echo "$name: compiled in $(( $(date +%s) - start )) s"
  "$mixq" verify "$so" --package "$pkg" --text "$text" --prefill 64 --decode 64
  a=$("$mixq" ppl --model "$so" --package "$pkg" --text "$text" --max-windows 4 --json)
  b=$("$mixq" ppl --model "$pkg" --text "$text" --max-windows 4 --json)
  echo "$name: compiled $a"
  echo "$name: reference $b"
  python3 - "$a" "$b" <<'PY'
import json, sys
a, b = (json.loads(v)["ppl"] for v in sys.argv[1:3])
rel = abs(a - b) / b
print(f"ppl relative difference {rel:.2e}")
sys.exit(0 if rel < 5e-4 else 1)
PY
  g1=$("$mixq" run "$so" --package "$pkg" --prompt "Once upon a time" -n 64 2>/dev/null)
  g2=$("$mixq" generate --model "$pkg" --prompt "Once upon a time" -n 64 2>/dev/null)
  if [ "$g1" != "$g2" ]; then
    printf 'FAIL: compiled and reference greedy text differ:\n%s\n---\n%s\n' "$g1" "$g2" >&2
    exit 1
  fi
}

check mixed --scheme mixed --bpw 2.91 --calib "$text" --calib-tokens 2048
check rtn4e --scheme rtn --bits 4 --group 32 --quantize-embeddings
check rtn4t8 --scheme rtn --bits 4 --group 32 --table-bits 8
echo PASS
