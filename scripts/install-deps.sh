#!/usr/bin/env bash
# Installs what mixq needs to build and test on Debian bookworm (idempotent):
# the MLIR/LLVM 22 packages, clang/lld/ninja/ccache, the sanitizer and
# libFuzzer runtimes (libclang-rt), GoogleTest, numpy (the
# independent cross-check) and npm (`mixq fetch`). Installs only what is
# missing, so a machine that has everything makes no network access.
set -euo pipefail

packages=(
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools libzstd-dev
  libedit-dev libcurl4-openssl-dev ninja-build clang-22 lld-22 cmake ccache
  libclang-rt-22-dev
  libgtest-dev python3 python3-numpy ca-certificates bible-kjv bible-kjv-text
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# npm: any working npm will do (Debian's, or one that came with nodejs).
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
