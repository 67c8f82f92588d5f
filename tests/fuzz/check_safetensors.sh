#!/bin/sh
# Regression check of fuzz_safetensors without libFuzzer: writes its seed
# corpus (gen_seeds_safetensors) and runs every seed, and every input kept
# under regressions/safetensors/, once through the replay build of the
# harness (under the build's sanitizers, if any).
#
# usage: tests/fuzz/check_safetensors.sh GEN_SEEDS REPLAY OUT_DIR [FIXTURES_DIR]
#
# libFuzzer (a -Dfuzz=enabled clang build):
#   BUILD/tests/fuzz_safetensors -dict=tests/fuzz/safetensors.dict -max_total_time=60 CORPUS_DIR
# with CORPUS_DIR seeded by this script's OUT_DIR.
set -eu

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

gen=$1
replay=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${4:-}
[ -d "$fixtures" ] || fixtures=

rm -rf "$out"
mkdir -p "$out"
if [ -n "$fixtures" ]; then
    "$gen" "$out" "$fixtures"
else
    "$gen" "$out"
fi
set -- "$out"
[ -d "$here/regressions/safetensors" ] && set -- "$@" "$here/regressions/safetensors"
"$replay" -v "$@"
