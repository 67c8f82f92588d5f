#!/bin/sh
# Builds the seed corpus for fuzz_gguf.
#
# usage: tests/fuzz/make_corpus.sh OUT_DIR [FIXTURES_DIR] [GEN_SEEDS]
#
#   OUT_DIR       created if missing; existing entries are kept
#   FIXTURES_DIR  default: $BITNET_FIXTURES, else ../shared/fixtures from the
#                 project root
#   GEN_SEEDS     optional path to the built tests/fuzz/gen_seeds program, which
#                 writes small valid files (these load, unlike cut fixtures)
#
# Each fixture *.gguf is copied whole when it is at most 64 KiB, else only its
# first 64 KiB (header, metadata and tensor table: what the parser reads), so
# inputs stay small and fuzzing stays fast.
set -eu

LIMIT=65536

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=${2:-${BITNET_FIXTURES:-$root/../shared/fixtures}}
gen=${3:-}

mkdir -p "$out"

if [ -d "$fixtures" ]; then
    # Names are flattened: vocab/ggml-vocab-gpt-2.gguf -> vocab_ggml-vocab-gpt-2.
    find "$fixtures" -type f -name '*.gguf' | sort | while IFS= read -r f; do
        rel=${f#"$fixtures"/}
        base=$(printf '%s' "${rel%.gguf}" | tr '/' '_')
        size=$(wc -c < "$f")
        if [ "$size" -le "$LIMIT" ]; then
            cp "$f" "$out/$base.gguf"
        else
            head -c "$LIMIT" "$f" > "$out/$base.head64k.gguf"
        fi
    done
else
    echo "make_corpus: no fixtures at $fixtures; only generated seeds" >&2
fi

if [ -n "$gen" ]; then
    "$gen" "$out"
fi

count=$(find "$out" -type f | wc -l)
echo "make_corpus: $count file(s) in $out"
