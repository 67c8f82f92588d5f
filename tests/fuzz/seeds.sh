#!/bin/sh
# Builds the seed corpus of one fuzz harness.
#
# usage: tests/fuzz/seeds.sh HARNESS OUT_DIR GEN_SEEDS [FIXTURES_DIR]
#
#   HARNESS       gguf, tokenizer, config, state or decode
#   OUT_DIR       created if missing; existing entries are kept
#   GEN_SEEDS     the built tests/gen_seeds program
#   FIXTURES_DIR  default: $BITNET_FIXTURES, else ../shared/fixtures from the
#                 project root; without it only the seeds that need no
#                 fixture are written
#
# gguf: generated small files plus the fixtures cut to 64 KiB (make_corpus.sh);
# tokenizer: texts (the fixtures' tokenizer test inputs and built-in ones);
# config: YAML documents; state: states saved from the tiny stories260k
# fixture; decode: tiny generated models plus the stories260k Q4_0 fixture.
set -eu

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

harness=$1
out=$2
gen=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=${4:-${BITNET_FIXTURES:-$root/../shared/fixtures}}
[ -d "$fixtures" ] || fixtures=

mkdir -p "$out"
case $harness in
gguf) "$here/make_corpus.sh" "$out" "$fixtures" "$gen" > /dev/null ;;
tokenizer) "$gen" --kind tokenizer "$out" "$fixtures" ;;
config) "$gen" --kind config "$out" ;;
state) "$gen" --kind state "$out" "$fixtures" ;;
decode)
    "$gen" --kind models "$out"
    if [ -n "$fixtures" ] && [ -f "$fixtures/stories260k/stories260k-q4_0.gguf" ]; then
        cp "$fixtures/stories260k/stories260k-q4_0.gguf" "$out/fixture-stories260k-q4_0.gguf"
    fi
    ;;
*)
    echo "seeds.sh: unknown harness '$harness'" >&2
    exit 2
    ;;
esac
