#!/usr/bin/env bash
# The bitnet CLI end to end: inspect, tensor, tokenize, run and perplexity on
# fixture models, and the exit status + message for bad input.
# usage: test_cli.sh BITNET_EXE FIXTURES_DIR
set -uo pipefail
bitnet=$1
fx=${BITNET_FIXTURES:-$2}
if [ ! -d "$fx" ]; then echo "fixtures folder not found (set BITNET_FIXTURES): skipping"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$fx/kjv-bitnet/kjv-bitnet-4m-i2_s.gguf
fails=0
pass=0

check() { # name, expected exit status, expected stderr/stdout substring, command...
    local name=$1 want=$2 text=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" != "$want" ] || { [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/out" "$tmp/err"; }; then
        echo "FAIL $name: exit $rc (want $want), output:"; head -c 600 "$tmp/out" "$tmp/err"; echo
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

check "inspect" 0 "bitnet-b1.58" "$bitnet" inspect --model "$model"
check "inspect json" 0 '"gguf_version": 3' "$bitnet" inspect --model "$model" --json
check "tensor rows" 0 "" "$bitnet" tensor --model "$model" --name blk.0.attn_k.weight --rows 2:5 --out "$tmp/k.f32"
size=$(stat -c %s "$tmp/k.f32")
[ "$size" = $((3 * 256 * 4)) ] && pass=$((pass + 1)) || { echo "FAIL tensor size $size"; fails=$((fails + 1)); }
check "tensor f16" 0 "" "$bitnet" tensor --model "$model" --name output_norm.weight --type f16 --out "$tmp/n.f16"
[ "$(stat -c %s "$tmp/n.f16")" = 512 ] && pass=$((pass + 1)) || { echo "FAIL f16 size"; fails=$((fails + 1)); }
check "tensor unknown name" 1 "not found" "$bitnet" tensor --model "$model" --name nope --out "$tmp/x"
check "tensor bad rows" 1 "outside" "$bitnet" tensor --model "$model" --name blk.0.attn_k.weight --rows 60:70 --out "$tmp/x"
check "tokenize" 0 "4094 1147 258 2080 387 3320" "$bitnet" tokenize --model "$model" --text "In the beginning God created"
check "run greedy json" 0 '"tokens": [258, 341, 44, 267' "$bitnet" run --model "$model" --prompt "In the beginning God created" --max-new-tokens 4 --temp 0 --json
check "run seeded" 0 "" "$bitnet" run --model "$model" --prompt "And" --max-new-tokens 8 --temp 0.8 --seed 7 --json
cp "$tmp/out" "$tmp/seed1"
"$bitnet" run --model "$model" --prompt "And" --max-new-tokens 8 --temp 0.8 --seed 7 --json >"$tmp/seed2" 2>/dev/null
python3 - "$tmp/seed1" "$tmp/seed2" <<'PY' && pass=$((pass + 1)) || fails=$((fails + 1))
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if a["tokens"] != b["tokens"] or a["text"] != b["text"]:
    print("FAIL same seed, different text"); sys.exit(1)
PY
check "run threads 0" 2 "--threads" "$bitnet" run --model "$model" --prompt "x" --threads 0
check "run threads 1000" 2 "--threads" "$bitnet" run --model "$model" --prompt "x" --threads 1000
check "run empty prompt" 2 "empty" "$bitnet" run --model "$model" --prompt ""
check "run invalid utf-8" 1 "invalid argument" "$bitnet" run --model "$model" --prompt $'caf\xc3'
check "run prompt > ctx" 1 "more than the context" "$bitnet" run --model "$model" --prompt "In the beginning God created" --ctx 4
check "run missing model" 1 "cannot open" "$bitnet" run --model "$tmp/none.gguf" --prompt "x"
check "run not gguf" 1 "bad format" "$bitnet" run --model "$fx/text/kjv-eval.txt" --prompt "x"
check "run bad temp" 2 "--temp" "$bitnet" run --model "$model" --prompt "x" --temp abc
check "unknown command" 2 "unknown command" "$bitnet" frobnicate
check "perplexity" 0 "perplexity" "$bitnet" perplexity --model "$fx/stories260k/stories260k-q8_0.gguf" --file "$fx/text/kjv-eval.txt" --ctx 64
echo "cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
