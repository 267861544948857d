#!/bin/sh
# fetch_model.sh MIXQ DEFAULT_HOME OUT - the e2e fixture: makes stories15M
# available and writes its path to OUT for the other e2e tests.
#
# `mixq fetch stories15M` downloads into $MIXQ_HOME (DEFAULT_HOME, a folder of
# the build tree, unless MIXQ_HOME is already set) and prints the model path
# as its last line. Offline runs may set MIXQ_E2E_MODEL to an existing
# stories15M.bin (with tokenizer.bin beside it) to skip the fetch.
set -eu
mixq=$1 default_home=$2 out=$3
if [ -n "${MIXQ_E2E_MODEL:-}" ]; then
  model=$MIXQ_E2E_MODEL
else
  MIXQ_HOME=${MIXQ_HOME:-$default_home}
  export MIXQ_HOME
  model=$("$mixq" fetch stories15M | tail -n 1)
fi
if [ ! -f "$model" ]; then
  echo "fetch_model.sh: '$model' is not a file" >&2
  exit 1
fi
printf '%s\n' "$model" > "$out"
echo "stories15M: $model"
