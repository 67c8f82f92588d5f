#!/bin/sh
# Regression check without libFuzzer: builds the seed corpus of one harness
# (seeds.sh) and runs every seed, and every input kept under
# regressions/HARNESS/, once through the harness built as a replay program
# (replay_main.c; under the build's sanitizers, if any). The replay names
# each input before running it, so a crash points at its file.
#
# usage: tests/fuzz/check_corpus.sh HARNESS GEN_SEEDS REPLAY OUT_DIR [FIXTURES_DIR]
set -eu

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

harness=$1
gen=$2
replay=$3
out=$4
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$out"
mkdir -p "$out"
"$here/seeds.sh" "$harness" "$out" "$gen" "${5:-}"
set -- "$out"
[ -d "$here/regressions/$harness" ] && set -- "$@" "$here/regressions/$harness"
"$replay" -v "$@"
