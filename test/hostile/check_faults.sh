#!/usr/bin/env bash
# check_faults.sh MIXQ WORKDIR SRCDIR - faults around quantize and run.
#
#   * quantize on a full disk (`ulimit -f` with SIGXFSZ ignored, so write()
#     fails with EFBIG): one-line error naming the package, exit 1, and no
#     file under the final name or a temporary beside it;
#   * quantize killed (SIGKILL) or terminated (SIGTERM) at many moments: the
#     final name holds nothing or a complete package that inspect accepts;
#     SIGTERM leaves no temporary file either;
#   * run with a prompt longer than the context: a clear error; -n beyond
#     the context: a warning and the context's length;
#   * run with a module compiled for sm_90a (a fake module made here with
#     clang-22): refused naming the target, whether or not an NVIDIA driver
#     is installed.
# Prints "faults: OK" when every check passes.
set -euo pipefail
mixq="$1" work="$2" src="$3"
rm -rf "$work" && mkdir -p "$work"
python3 -B -c "
import sys; sys.path.insert(0, '$src/test/hostile'); import tiny_models as t
open('$work/tiny.bin', 'wb').write(t.llama2c()[0])
open('$work/tokenizer.bin', 'wb').write(t.tokenizer_bin())"
quantize=("$mixq" quantize --model "$work/tiny.bin" --scheme rtn --bits 4 --group 16)
die() { echo "faults: FAIL: $*" >&2; exit 1; }

# Disk full.
set +e
(trap '' XFSZ; ulimit -f 8; exec "${quantize[@]}" -o "$work/full.mixq") \
  >/dev/null 2>"$work/full.err"
rc=$?
set -e
[ "$rc" -ge 1 ] && [ "$rc" -le 127 ] || die "disk full: exit code $rc"
# quantize reports progress on stderr; then exactly one error line, last.
[ "$(grep -c "error" "$work/full.err")" -eq 1 ] || die "disk full: $(cat "$work/full.err")"
tail -n 1 "$work/full.err" | grep -q "^mixq: error: .*full.mixq: cannot write the package (File too large); nothing was left under this name$" \
  || die "disk full: $(cat "$work/full.err")"
grep -q "Stack dump" "$work/full.err" && die "disk full: $(cat "$work/full.err")"
ls "$work"/full.mixq* >/dev/null 2>&1 && die "disk full left $(ls "$work"/full.mixq*)"

# Killed or terminated at many moments.
for signal in KILL TERM; do
  for delay in 0.01 0.03 0.05 0.08 0.1 0.15 0.2 0.3 0.5; do
    out="$work/killed-$signal-$delay.mixq"
    "${quantize[@]}" -o "$out" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -s "$signal" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -e "$out" ]; then
      "$mixq" inspect "$out" >/dev/null 2>&1 || die "$signal after $delay s left a partial $out"
    fi
    if [ "$signal" = TERM ]; then
      ls "$out".tmp-* >/dev/null 2>&1 && die "SIGTERM after $delay s left $(ls "$out".tmp-*)"
    fi
  done
done

# run: prompt and -n against the context of 16.
"${quantize[@]}" -o "$work/rtn.mixq" >/dev/null 2>&1
"$mixq" compile "$work/rtn.mixq" -o "$work/rtn.so"
long="the cat sat on the mat and the hat sat on the cat and then the end"
set +e
"$mixq" run "$work/rtn.so" --package "$work/rtn.mixq" --prompt "$long" \
  >/dev/null 2>"$work/long.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || die "long prompt: exit code $rc"
grep -q "rtn.so: the prompt is [0-9]* tokens with BOS but the context holds 16" \
  "$work/long.err" || die "long prompt: $(cat "$work/long.err")"
set +e
"$mixq" run "$work/rtn.so" --package "$work/rtn.mixq" --prompt "the" -n 100 \
  --threads 1 >/dev/null 2>"$work/n.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || die "-n 100: exit code $rc"
[ "$(wc -l < "$work/n.err")" -eq 1 ] || die "-n 100: $(cat "$work/n.err")"
grep -q "rtn.so: -n 100 exceeds the context of 16 positions" \
  "$work/n.err" || die "-n 100: $(cat "$work/n.err")"

# A module for another chip.
clang-22 -shared -fPIC -I"$src" -DMIXQ_FAKE_TARGET='"sm_90a"' \
  "$src/test/hostile/Inputs/fake_module.c" -o "$work/sm90a.so"
set +e
"$mixq" run "$work/sm90a.so" --package "$work/rtn.mixq" --prompt "the" \
  >/dev/null 2>"$work/gpu.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || die "sm_90a module: exit code $rc"
[ "$(wc -l < "$work/gpu.err")" -eq 1 ] || die "sm_90a module: $(cat "$work/gpu.err")"
grep -Eq "sm90a.so: compiled for the NVIDIA GPU target sm_90a(, but no NVIDIA driver is installed|; this mixq runs CPU modules only)" \
  "$work/gpu.err" || die "sm_90a module: $(cat "$work/gpu.err")"
echo "faults: OK"
