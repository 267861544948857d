#!/usr/bin/env bash
# check_gpu_nodriver.sh MIXQ WORKDIR - run, ppl and verify on WORKDIR/rtn.so
# (a GPU module) with $MIXQ_LIBCUDA pointing at a missing library: each must
# exit 1 with exactly one line on stderr, printed as "<cmd>: exit <rc>:
# <line>"; prints "gpu-nodriver: OK" when all do.
set -uo pipefail
mixq="$1" work="$2"
export MIXQ_LIBCUDA="$work/no-driver/libcuda.so.1"
status=0
check() {
  local name="$1"; shift
  "$mixq" "$@" > "$work/$name.out" 2> "$work/$name.err"
  local rc=$?
  echo "$name: exit $rc: $(head -1 "$work/$name.err")"
  if [ "$rc" -ne 1 ] || [ "$(wc -l < "$work/$name.err")" -ne 1 ]; then
    echo "$name: FAIL: $(cat "$work/$name.err")"
    status=1
  fi
}
check run run "$work/rtn.so" --package "$work/rtn.mixq" --prompt "the" -n 8
check ppl ppl --model "$work/rtn.so" --package "$work/rtn.mixq" \
  --text "$work/calib.txt"
check verify verify "$work/rtn.so" --package "$work/rtn.mixq" --prefill 4 \
  --decode 2
[ "$status" -eq 0 ] && echo "gpu-nodriver: OK"
exit "$status"
