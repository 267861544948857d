#!/bin/sh
# check_generate.sh MIXQ MODEL_PATH_FILE - greedy generation from "Once upon a
# time" (64 positions counting BOS and the prompt) is deterministic across
# runs and thread counts and begins as llama2.c's run.c does for stories15M.
set -eu
mixq=$1 model=$(cat "$2")
expected="Once upon a time, there was a little girl named Lily."
a=$("$mixq" generate --model "$model" --prompt "Once upon a time" -n 64 --temp 0)
b=$("$mixq" generate --model "$model" --prompt "Once upon a time" -n 64 --temp 0 --threads 1)
printf '%s\n' "$a"
if [ "$a" != "$b" ]; then
  printf 'FAIL: two greedy runs differ; second:\n%s\n' "$b" >&2
  exit 1
fi
case "$a" in
  "$expected"*) ;;
  *) echo "FAIL: output does not begin with '$expected'" >&2; exit 1 ;;
esac
# Sampling with a fixed seed is reproducible too.
s1=$("$mixq" generate --model "$model" --prompt "Once upon a time" -n 48 --temp 0.9 --top-p 0.9 --seed 42)
s2=$("$mixq" generate --model "$model" --prompt "Once upon a time" -n 48 --temp 0.9 --top-p 0.9 --seed 42)
if [ "$s1" != "$s2" ]; then
  echo "FAIL: seeded sampling is not reproducible" >&2
  exit 1
fi
echo "PASS"
