#!/usr/bin/env bash
# Runs one binding's tests against a meson build folder:
#   bindings/test.sh python|rust|go [BUILD_DIR]      (BUILD_DIR defaults to build)
# The tests compare greedy generation with that build's `bitnet run --temp 0
# --json` on the kjv-bitnet fixture ($BITNET_FIXTURES, default
# ../shared/fixtures). Exit status: 0 passed, 77 skipped (toolchain missing),
# anything else failed. Toolchains: Debian's /usr/bin/python3, cargo and go
# when present, else the first on PATH.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
binding=${1:?usage: bindings/test.sh python|rust|go [BUILD_DIR]}
build=$(cd "${2:-build}" 2>/dev/null && pwd) || { echo "no build folder ${2:-build}"; exit 1; }
[ -e "$build/lib/libbitnet.so" ] || { echo "$build/lib/libbitnet.so missing: build first"; exit 1; }
export BITNET_CLI=$build/tools/bitnet/bitnet

tool() { # name: Debian's copy first, else PATH
    if [ -x "/usr/bin/$1" ]; then echo "/usr/bin/$1"; else command -v "$1"; fi
}
skip() { echo "SKIP: $binding binding: $1"; exit 77; }

case $binding in
python)
    py=$(tool python3) || skip "python3 not found"
    BITNET_LIBRARY=$build/lib/libbitnet.so "$py" -m unittest discover -v -s bindings/python/tests 2>&1
    ;;
rust)
    cargo=$(tool cargo) || skip "cargo not found (apt-get install cargo)"
    [ -n "${HOME:-}" ] || export CARGO_HOME=$build/cargo-home
    cd bindings/rust && BITNET_LIB_DIR=$build/lib CARGO_TARGET_DIR=$build/rust-target \
        "$cargo" test --offline -q -- --nocapture 2>&1
    ;;
go)
    go=$(tool go) || skip "go not found (apt-get install golang-go)"
    [ -n "${HOME:-}" ] || export GOCACHE=$build/go-cache GOPATH=$build/go-path
    cd bindings/go && GOFLAGS=-mod=mod GOPROXY=off \
        CGO_CFLAGS="-O2 -g -I$root/include -I$build/include/bitnet" \
        CGO_LDFLAGS="-L$build/lib -Wl,-rpath,$build/lib" \
        "$go" test -count=1 -v ./... 2>&1
    ;;
*)
    echo "unknown binding $binding (python, rust or go)"
    exit 2
    ;;
esac
