#!/usr/bin/env bash
# Runs every libFuzzer target of the sanitized build (scripts/sanitize.sh
# makes it) for a bounded time: N seconds each (default 60), one after the
# other, on a corpus seeded by fuzz/make_seeds.py plus fuzz/regressions/.
#
#   bash scripts/fuzz.sh [seconds-per-target] [target...]
#
# Targets: llama2c gguf safetensors package tokenizer-bin tokenizer-json
# layout-attr. The corpus grows in build-san/fuzz/corpus/<target>/; a crash,
# a sanitizer report, a leak, an input slower than 10 s or an allocation
# over 2 GiB leaves its input in build-san/fuzz/crashes/<target>/ and makes
# the script fail. After fixing the bug, copy that input into
# fuzz/regressions/<target>/ so that ctest replays it forever.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MIXQ_SAN_BUILD_DIR:-$root/build-san}"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama2c gguf safetensors package tokenizer-bin tokenizer-json layout-attr)

if [ ! -x "$build/bin/mixq-fuzz-llama2c" ]; then
  echo "fuzz.sh: no fuzz targets in $build; run scripts/sanitize.sh first" >&2
  exit 2
fi
seeds="$build/fuzz/seeds"
withMixq=()  # packages are seeded with what `mixq quantize` writes
[ -x "$build/bin/mixq" ] && withMixq=(--mixq "$build/bin/mixq")
python3 "$root/fuzz/make_seeds.py" "$seeds" "${withMixq[@]}" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz/corpus/$t" crashes="$build/fuzz/crashes/$t"
  log="$build/fuzz/$t.log"
  mkdir -p "$corpus" "$crashes" "$seeds/$t"
  dict=()
  case "$t" in
    layout-attr) dict=(-dict="$root/fuzz/dicts/layout-attr.dict") ;;
    safetensors|package|tokenizer-json) dict=(-dict="$root/fuzz/dicts/json.dict") ;;
  esac
  if "$build/bin/mixq-fuzz-$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "${dict[@]}" \
      "$corpus" "$seeds/$t" "$root/fuzz/regressions/$t" >"$log" 2>&1; then
    echo "fuzz $t: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') runs in ${seconds} s, no crash"
  else
    echo "fuzz $t: FAILED (log: $log)" >&2
    grep -E "ERROR|SUMMARY|mixq-fuzz|Test unit written" "$log" | head -n 20 >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs in $build/fuzz/crashes/)" >&2
  exit 1
fi
