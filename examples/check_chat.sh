#!/bin/sh
# examples/chat: two turns from a here-document, one reply line each; then
# a conversation longer than a small context, which must be trimmed and go
# on to the end.
#   check_chat.sh CHAT MODEL
set -eu
chat=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$chat" "$model" --temp 0 --n-predict 16 > "$tmp/out" 2> "$tmp/err" <<'TURNS'
In the beginning God created the heaven and the earth.
And the LORD spake unto Moses, saying,
TURNS
cat "$tmp/out"
[ "$(wc -l < "$tmp/out")" -eq 2 ] || { echo "expected 2 replies"; cat "$tmp/err"; exit 1; }

# 48 positions, 8 turns of ~10 tokens plus replies: several trims.
for i in 1 2 3 4 5 6 7 8; do echo "And it came to pass on the day number $i that"; done |
    "$chat" "$model" --temp 0.7 --seed 3 --n-predict 12 --ctx 48 > "$tmp/out" 2> "$tmp/err"
[ "$(wc -l < "$tmp/out")" -eq 8 ] || { echo "expected 8 replies"; cat "$tmp/out" "$tmp/err"; exit 1; }
grep -q 'context full' "$tmp/err" || { echo "the context was never trimmed"; cat "$tmp/err"; exit 1; }
echo "trims: $(grep -c 'context full' "$tmp/err")"
