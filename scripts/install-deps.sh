#!/usr/bin/env bash
# Installs the Debian packages libbitnet builds and tests with (idempotent,
# non-interactive). Uses sudo when not root.
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev llvm binutils
      libcmocka-dev libyaml-dev libzstd-dev libopenblas-dev valgrind python3
      python3-numpy cargo golang-go  # these three: the bindings' tests (bindings/)
      abigail-tools g++)             # the ABI check (abidw/abidiff), examples/simple.cpp
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
