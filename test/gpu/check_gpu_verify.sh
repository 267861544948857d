#!/usr/bin/env bash
# check_gpu_verify.sh MIXQ WORKDIR SRCDIR - a GPU module on a device.
#
# Quantizes the tiny synthetic model (rtn 4-bit, groups of 32 columns: the
# GPU GEMV's granularity), compiles it for the chip of this machine's GPU
# (sm_90a on compute capability 9.0, sm_80 otherwise) and checks it against
# the fp32 reference engine with `mixq verify` (prefill logits at every
# position, then greedy decode steps); then `mixq run` and `mixq ppl` on it.
# Exits 77 (ctest: skipped), printing why, where no driver or GPU is found.
set -euo pipefail
mixq="$1" work="$2" src="$3"
rm -rf "$work" && mkdir -p "$work"
python3 "$src/test/Codegen/Inputs/make_tiny_llama.py" "$work" > /dev/null
cp "$src/test/Codegen/Inputs/calib.txt" "$work/calib.txt"
"$mixq" quantize --scheme rtn --bits 4 --group 32 --asym \
  --model "$work/tiny.bin" -o "$work/rtn.mixq" > /dev/null 2>&1

# Which chip (sets target and device; exits 77 without a GPU).
source "$src/test/gpu/probe_gpu.sh"
probe_gpu "$mixq" "$work/rtn.mixq" "$work"
echo "device: $device"
[ "$target" = sm_80 ] ||
  "$mixq" compile "$work/rtn.mixq" --target=$target -o "$work/$target.so"

# The kernels use ex2.approx for exp and LLVM may contract fmas: last-bit
# differences from the reference, far below this bound.
"$mixq" verify "$work/$target.so" --package "$work/rtn.mixq" \
  --text "$work/calib.txt" --prefill 8 --decode 7 --max-nmse 1e-5
"$mixq" run "$work/$target.so" --package "$work/rtn.mixq" --prompt "the" -n 16
"$mixq" ppl --model "$work/$target.so" --package "$work/rtn.mixq" \
  --text "$work/calib.txt"
echo "gpu-verify: OK ($target)"
