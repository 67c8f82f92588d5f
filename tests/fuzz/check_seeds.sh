#!/bin/sh
# Regression check without libFuzzer: builds the seed corpus (generated seeds
# plus cut fixtures) and runs every entry, and every file in regressions/, once
# through the harness built with -DBN_FUZZ_STANDALONE (under the build's
# sanitizers, if any).
#
# usage: tests/fuzz/check_seeds.sh GEN_SEEDS REPLAY OUT_DIR [FIXTURES_DIR]
set -eu

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

gen=$1
replay=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$out"
rm -f "$out"/*.gguf
"$here/make_corpus.sh" "$out" "${4:-}" "$gen"
# One process per file keeps a crash attributable to its input.
failed=0
passed=0
# Inputs that once crashed the harness or the loader are replayed too.
for f in "$out"/*.gguf "$here"/regressions/*; do
    [ -f "$f" ] || continue
    if "$replay" "$f" > /dev/null; then
        passed=$((passed + 1))
    else
        echo "check_seeds: FAILED on $f" >&2
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
