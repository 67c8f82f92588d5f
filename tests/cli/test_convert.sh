#!/usr/bin/env bash
# Hugging Face directories in the CLI (issue 8): run/inspect/tokenize on the
# fixture's hf/ directory, and `bitnet convert` to every type, each output
# checked against the hf/ golden file (greedy tokens and logits within its
# tolerance) with the fixtures' check_greedy.py; bad arguments and inputs
# give exit status 2 (usage) or 1 (a failing call, with the message).
# usage: test_convert.sh BITNET_EXE FIXTURES_DIR
set -uo pipefail
bitnet=$1
fx=${BITNET_FIXTURES:-$2}
if [ ! -d "$fx/kjv-bitnet/hf" ]; then echo "fixtures folder not found (set BITNET_FIXTURES): skipping"; exit 77; fi
if ! command -v python3 >/dev/null; then echo "python3 not found: skipping"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hf=$fx/kjv-bitnet/hf
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

check "inspect dir" 0 "SafeTensors (Hugging Face)" "$bitnet" inspect --model "$hf"
check "inspect json" 0 '"gguf_version": 0' "$bitnet" inspect --model "$hf" --json
check "tokenize dir" 0 "4094 1147 258 2080 387 3320" "$bitnet" tokenize --model "$hf" --text "In the beginning God created"
check "run safetensors path" 0 '"tokens": [258, 341, 44, 267' "$bitnet" run --model "$hf/model.safetensors" \
    --prompt "In the beginning God created" --max-new-tokens 4 --temp 0 --json
check "tensor i2_s" 0 "" "$bitnet" tensor --model "$hf" --name blk.0.attn_q.weight --rows 0:2 --out "$tmp/q.f32"

# Every type: the file loads, has the asked types, and matches the golden file.
mkdir -p "$tmp/g"
for t in i2_s tq1_0 tq2_0 f16 q8_0; do
    check "convert $t" 0 "wrote" "$bitnet" convert --in "$hf" --out "$tmp/g/hf-$t.gguf" --type "$t"
    check "inspect $t" 0 "blk.0.ffn_down.weight            $t" "$bitnet" inspect --model "$tmp/g/hf-$t.gguf"
    python3 - "$fx/kjv-bitnet/kjv-bitnet-4m-hf.golden.json" "$tmp/g/hf-$t" <<'PY'
import json, os, sys
g = json.load(open(sys.argv[1]))
g["model"] = os.path.basename(sys.argv[2]) + ".gguf"
json.dump(g, open(sys.argv[2] + ".golden.json", "w"))
os.symlink(os.path.abspath(sys.argv[1].replace(".golden.json", ".logits.f32")), sys.argv[2] + ".logits.f32")
PY
done
if python3 "$fx/check_greedy.py" "$bitnet" "$tmp/g" --logits >"$tmp/greedy" 2>&1; then
    pass=$((pass + 1))
else
    echo "FAIL converted files against the hf golden file:"; cat "$tmp/greedy"
    fails=$((fails + 1))
fi
grep -F "passed" "$tmp/greedy"

# The same sizes as the fixture's GGUF twins of these types.
for t in i2_s tq1_0 tq2_0 f16; do
    a=$(stat -c %s "$tmp/g/hf-$t.gguf") b=$(stat -c %s "$fx/kjv-bitnet/kjv-bitnet-4m-$t.gguf")
    [ "$a" = "$b" ] && pass=$((pass + 1)) || { echo "FAIL $t: $a bytes, the fixture twin has $b"; fails=$((fails + 1)); }
done

# --head: a tied head of another type is written out as output.weight.
check "convert head q6_k" 0 "wrote" "$bitnet" convert --in "$hf" --out "$tmp/h.gguf" --type tq2_0 --head q6_k
check "head is q6_k" 0 "output.weight                    q6_k" "$bitnet" inspect --model "$tmp/h.gguf"
check "head run" 0 '"tokens": [258, 341, 44, 267' "$bitnet" run --model "$tmp/h.gguf" \
    --prompt "In the beginning God created" --max-new-tokens 4 --temp 0 --json
check "convert head f16 stays tied" 0 "wrote" "$bitnet" convert --in "$hf" --out "$tmp/t.gguf" --type i2_s --head f16
# (The whole listing first: grep -q closing the pipe early would make the
# check's outcome depend on SIGPIPE timing; the name must match exactly, as
# blk.N.attn_output.weight contains "output.weight".)
"$bitnet" inspect --model "$tmp/t.gguf" >"$tmp/t.txt"
if grep -qE '^[[:space:]]+output\.weight[[:space:]]' "$tmp/t.txt"; then
    echo "FAIL tied head written"; fails=$((fails + 1))
else
    pass=$((pass + 1))
fi

# A GGUF input converts too; i2_s is for BitNet models only.
check "convert gguf llama q8_0" 0 "wrote" "$bitnet" convert --in "$fx/kjv-llama/kjv-llama-5m-f32.gguf" --out "$tmp/l.gguf" --type q8_0
check "llama q8_0 runs" 0 '"tokens"' "$bitnet" run --model "$tmp/l.gguf" --prompt "In the beginning" --max-new-tokens 2 --temp 0 --json
check "convert llama i2_s" 2 "BitNet" "$bitnet" convert --in "$fx/kjv-llama/kjv-llama-5m-f32.gguf" --out "$tmp/x.gguf" --type i2_s

# Bad arguments and inputs.
check "convert help" 0 "usage" "$bitnet" convert --help
check "convert no type" 2 "required" "$bitnet" convert --in "$hf" --out "$tmp/x.gguf"
check "convert bad type" 2 "unknown --type" "$bitnet" convert --in "$hf" --out "$tmp/x.gguf" --type q4_k
check "convert bad head" 2 "unknown --head" "$bitnet" convert --in "$hf" --out "$tmp/x.gguf" --type f16 --head q4_0
check "convert missing dir" 1 "cannot open" "$bitnet" convert --in "$tmp/none" --out "$tmp/x.gguf" --type f16
check "convert bad out" 1 "cannot create" "$bitnet" convert --in "$hf" --out "$tmp/no/such/x.gguf" --type f16
mkdir -p "$tmp/bad"
cp "$hf/tokenizer.json" "$hf/model.safetensors" "$tmp/bad/"
printf '{"architectures": ["BitNetForCausalLM"], "hidden_size": 256' >"$tmp/bad/config.json"
check "run truncated config" 1 "config.json: line 1" "$bitnet" run --model "$tmp/bad" --prompt x
head -c 5000 "$hf/model.safetensors" >"$tmp/bad/model.safetensors"
cp "$hf/config.json" "$tmp/bad/"
check "run truncated safetensors" 1 "bad format" "$bitnet" run --model "$tmp/bad/model.safetensors" --prompt x
[ ! -e "$tmp/x.gguf" ] && pass=$((pass + 1)) || { echo "FAIL a failed convert left its output"; fails=$((fails + 1)); }

echo "cli_convert: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
