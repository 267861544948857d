# probe_gpu.sh - sourced by the device checks: probe_gpu MIXQ PACKAGE WORKDIR
# compiles PACKAGE for sm_80 (PTX runs on 8.0 and newer) into
# WORKDIR/sm_80.so, runs it, and sets `target` to the chip of this machine's
# GPU (sm_90a on compute capability 9.0, sm_80 otherwise) and `device` to
# its name. Exits 77 (ctest: skipped), printing why, where no driver or GPU
# is found; exits 1 when the run fails for another reason.
probe_gpu() {
  local mixq="$1" pkg="$2" work="$3" rc
  "$mixq" compile "$pkg" --target=sm_80 -o "$work/sm_80.so"
  set +e
  "$mixq" run "$work/sm_80.so" --package "$pkg" --prompt "the" -n 8 \
    > "$work/probe.out" 2> "$work/probe.err"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    if grep -Eq "no NVIDIA driver is installed|no usable NVIDIA GPU" \
        "$work/probe.err"; then
      echo "SKIPPED: $(cat "$work/probe.err")"
      exit 77
    fi
    echo "FAIL: mixq run on sm_80: $(cat "$work/probe.err")" >&2
    exit 1
  fi
  target=sm_80
  if grep -q "sm_90)" "$work/probe.err"; then target=sm_90a; fi
  device="$(grep -o 'GPU 0 ([^)]*)' "$work/probe.err" | head -1)"
}
