#!/bin/sh
# Runs a build of examples/simple.c or simple.cpp and checks its greedy
# output against the CLI's: the same tokens as `bitnet run --temp 0 --json`
# and the same text as `bitnet run --temp 0`.
#   check_simple.sh SIMPLE BITNET_CLI MODEL
set -eu
simple=$1 cli=$2 model=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=24
for prompt in "In the beginning God created" "And the LORD spake unto Moses, saying"; do
    "$simple" "$model" "$prompt" $n > "$tmp/text" 2> "$tmp/err" || { cat "$tmp/err"; exit 1; }
    got=$(sed -n 's/^tokens: *//p' "$tmp/err")
    "$cli" run --model "$model" --prompt "$prompt" --temp 0 --max-new-tokens $n --json > "$tmp/json"
    want=$(sed -n 's/.*"tokens": \[\([^]]*\)\].*/\1/p' "$tmp/json" | tr -d ,)
    "$cli" run --model "$model" --prompt "$prompt" --temp 0 --max-new-tokens $n > "$tmp/cli_text"
    if [ "$got" != "$want" ] || [ -z "$got" ]; then
        echo "tokens differ for \"$prompt\":"; echo "  $simple: $got"; echo "  bitnet run: $want"; exit 1
    fi
    if ! cmp -s "$tmp/text" "$tmp/cli_text"; then
        echo "text differs for \"$prompt\":"; cat "$tmp/text" "$tmp/cli_text"; exit 1
    fi
    printf '%s|%s' "$prompt" "$(cat "$tmp/text")"; echo
done
echo "$(basename "$simple"): same greedy tokens and text as bitnet run --temp 0"
