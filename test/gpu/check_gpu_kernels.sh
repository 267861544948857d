#!/usr/bin/env bash
# check_gpu_kernels.sh MIXQ WORKDIR SRCDIR - every GPU product kernel on a
# device, on shapes that are not tile multiples.
#
# A tiny model with odd dimensions (dim 96, hidden 160, 3 heads of 32, one
# KV head, max_seq_len 640: weight rows of 32, 96 and 160, K of 96 and 160,
# a vocabulary of 274) is quantized with every scheme the GPU lowers (rtn
# 2/3/4/8-bit with and without zeros and second-order scales, quantized
# embeddings and head, mixed 2/4/16, SqueezeLLM, QUIK with FP16
# activations and with 4- and 8-bit activations quantized at run time,
# asymmetric and symmetric: the integer GEMM at prefill), compiled for
# this machine's chip and checked against the
# fp32 reference engine with `mixq verify` at prefill lengths 1, 5, 16, 64
# and 512 (the GEMM at M = 1..512, partial row blocks included) and 7
# decode steps (the GEMV at M = 1). On sm_90a a second model with K of 128
# and 192 runs the wgmma/TMA GEMM (uniform weights and QUIK's integer
# one), A/B against --sm90-gemm=mma. Then
# compute-sanitizer memcheck, where
# the toolkit has it, on a prefill of 64 and 3 decode steps. Every failure is
# listed before the script exits 1. Exits 77 (ctest: skipped), printing why,
# where no driver or GPU is found.
set -euo pipefail
mixq="$1" work="$2" src="$3"
dims=96,160,2,3,1,640
rm -rf "$work" && mkdir -p "$work/untied"
python3 "$src/test/Codegen/Inputs/make_tiny_llama.py" "$work" --dims $dims \
  > /dev/null
python3 "$src/test/Codegen/Inputs/make_tiny_llama.py" "$work/untied" \
  --untied --dims $dims > /dev/null
for _ in 1 2 3 4 5 6 7 8; do cat "$src/test/Codegen/Inputs/calib.txt"; done \
  > "$work/long.txt"
calib=(--calib "$work/long.txt" --calib-tokens 256)

quantize() { # NAME MODEL ARGS...
  local name="$1" model="$2"
  shift 2
  "$mixq" quantize "$@" --model "$model" -o "$work/$name.mixq" \
    > "$work/$name.quantize.log" 2>&1 ||
    { echo "FAIL: quantize $name: $(tail -1 "$work/$name.quantize.log")" >&2
      exit 1; }
}
tied="$work/tiny.bin" untied="$work/untied/tiny.bin"
quantize u4 "$tied" --scheme rtn --bits 4 --group 32
quantize u4z "$tied" --scheme rtn --bits 4 --group 32 --asym
quantize u2 "$tied" --scheme rtn --bits 2 --group 32 --asym
quantize u3s "$tied" --scheme rtn --bits 3 --group 32 --asym \
  --scale-bits 4 --scale-block 8
quantize u8 "$tied" --scheme rtn --bits 8 --group 0
quantize emb "$untied" --scheme rtn --bits 4 --group 32 \
  --quantize-embeddings --quantize-head
quantize mixed "$untied" --scheme mixed --bpw 3.5 --mixed-group 32 \
  --tile 16 --slots 2 --asym --mixed-scale-bits 4 --mixed-scale-block 8 \
  "${calib[@]}"
quantize squeeze "$untied" --scheme squeeze "${calib[@]}"
quantize quik "$tied" --scheme quik --act-bits 16 --fp16-cols 32 "${calib[@]}"
quantize quik4 "$tied" --scheme quik --act-bits 4 --fp16-cols 32 "${calib[@]}"
quantize quik8 "$tied" --scheme quik --act-bits 8 --fp16-cols 32 "${calib[@]}"
quantize quik4s "$tied" --scheme quik --act-bits 4 --act-asym=false \
  --fp16-cols 0 "${calib[@]}"

# Which chip (sets target and device; exits 77 without a GPU).
source "$src/test/gpu/probe_gpu.sh"
probe_gpu "$mixq" "$work/u4.mixq" "$work"
echo "device: $device, chip $target"

failed=()
for pkg in u4 u4z u2 u3s u8 emb mixed squeeze quik quik4 quik8 quik4s; do
  if ! "$mixq" compile "$work/$pkg.mixq" --target=$target \
      -o "$work/$pkg.so" > "$work/$pkg.compile.log" 2>&1; then
    failed+=("$pkg: compile: $(tail -1 "$work/$pkg.compile.log")")
    continue
  fi
  prefills="1 5 16 64 512"
  # Activations re-quantized per token (verify's bound for them, 1e-3):
  # an activation the GPU's last bits put on the other side of a rounding
  # tie moves a whole step, so the long prefill is left out.
  [[ $pkg = quik4* || $pkg = quik8 ]] && prefills="1 5 16 64"
  for prefill in $prefills; do
    # f16 tensor-core prefill and approximate exp: small, not last-bit,
    # differences from the fp32 reference.
    if "$mixq" verify "$work/$pkg.so" --package "$work/$pkg.mixq" \
        --text "$work/long.txt" --prefill $prefill --decode 7 \
        --max-nmse 1e-5 > "$work/$pkg.$prefill.log" 2>&1; then
      echo "ok   $pkg prefill $prefill: $(grep '^prefill:' "$work/$pkg.$prefill.log")"
    else
      failed+=("$pkg prefill $prefill: $(tail -3 "$work/$pkg.$prefill.log" | tr '\n' ' ')")
    fi
  done
done

# sm_90a: the wgmma/TMA prefill GEMM covers uniform weights whose K is a
# multiple of 64, which dims 96/160 are not. A second model (dim 128, hidden
# 192: K of 128 and 192; weight rows of 32, 128, 192 and the vocabulary's
# 274, a partial block) runs it, each package compiled twice: the default
# (wgmma) and --sm90-gemm=mma (the mma.sync kernel), the A/B pair.
if [ "$target" = sm_90a ]; then
  wdims=128,192,2,4,1,640
  mkdir -p "$work/w64"
  python3 "$src/test/Codegen/Inputs/make_tiny_llama.py" "$work/w64" \
    --dims $wdims > /dev/null
  quantize w4 "$work/w64/tiny.bin" --scheme rtn --bits 4 --group 32
  quantize w2z "$work/w64/tiny.bin" --scheme rtn --bits 2 --group 64 --asym
  quantize w3s "$work/w64/tiny.bin" --scheme rtn --bits 3 --group 32 --asym \
    --scale-bits 4 --scale-block 8
  quantize w8 "$work/w64/tiny.bin" --scheme rtn --bits 8 --group 0
  # QUIK's s8 wgmma kernel (K = 128: 128-code tiles; w2's 8-bit codes on
  # the mma.sync kernel).
  quantize qw4 "$work/w64/tiny.bin" --scheme quik --act-bits 4 \
    --fp16-cols 0 "${calib[@]}"
  for pkg in w4 w2z w3s w8 qw4; do
    for gemm in wgmma mma; do
      so="$work/$pkg.$gemm.so"
      if ! "$mixq" compile "$work/$pkg.mixq" --target=$target \
          --sm90-gemm=$gemm -o "$so" > "$work/$pkg.$gemm.compile.log" 2>&1
      then
        failed+=("$pkg $gemm: compile: $(tail -1 "$work/$pkg.$gemm.compile.log")")
        continue
      fi
      prefills="1 17 64 100 512"
      # Re-quantized activations: rounding ties (see above).
      [ $pkg = qw4 ] && prefills="1 17 64 100"
      for prefill in $prefills; do
        log="$work/$pkg.$gemm.$prefill.log"
        if "$mixq" verify "$so" --package "$work/$pkg.mixq" \
            --text "$work/long.txt" --prefill $prefill --decode 3 \
            --max-nmse 1e-5 > "$log" 2>&1; then
          echo "ok   $pkg ($gemm) prefill $prefill: $(grep '^prefill:' "$log")"
        else
          failed+=("$pkg ($gemm) prefill $prefill: $(tail -3 "$log" | tr '\n' ' ')")
        fi
      done
    done
  done
fi

sanitizer="$(command -v compute-sanitizer || true)"
[ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] &&
  sanitizer=/usr/local/cuda/bin/compute-sanitizer
if [ -n "$sanitizer" ]; then
  for pkg in u4z u3s mixed squeeze quik quik4 quik8 quik4s qw4.wgmma w2z.wgmma w3s.wgmma; do
    [ -f "$work/$pkg.so" ] || continue
    if "$sanitizer" --tool memcheck --error-exitcode 99 "$mixq" verify \
        "$work/$pkg.so" --package "$work/${pkg%%.*}.mixq" --text "$work/long.txt" \
        --prefill 64 --decode 3 --max-nmse 1e-5 \
        > "$work/$pkg.memcheck.log" 2>&1; then
      echo "ok   $pkg memcheck"
    else
      failed+=("$pkg memcheck: $(grep -m3 -E 'ERROR|Invalid' "$work/$pkg.memcheck.log" | tr '\n' ' ')")
    fi
  done
else
  echo "note: compute-sanitizer not found; memcheck not run"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "gpu-kernels: OK ($target)"
