#!/usr/bin/env bash
# bitnet run --config: examples/run.yaml (the bundled demo model) gives the
# same tokens as the same settings spelled as flags; flags override the
# file; bad files print FILE:LINE:COLUMN and exit 1.
# usage: test_config.sh BITNET_EXE SOURCE_ROOT
set -uo pipefail
bitnet=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the script runs in SOURCE_ROOT
src=$2
cd "$src" || exit 1
[ -f examples/run.yaml ] && [ -f examples/models/kjv-bitnet-4m-i2_s.gguf ] || { echo "examples missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0

check() { # name, expected exit status, expected stderr/stdout substring, command...
    local name=$1 want=$2 text=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" != "$want" ] || { [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/out" "$tmp/err"; }; then
        echo "FAIL $name: exit $rc (want $want), output:"; head -c 800 "$tmp/out" "$tmp/err"; echo
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# Same tokens and text in two JSON outputs; optional expected n_gen.
same_json() { # name, file a, file b, [n_gen]
    python3 - "$@" <<'PY' && pass=$((pass + 1)) || fails=$((fails + 1))
import json, sys
name, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
if a["tokens"] != b["tokens"] or a["text"] != b["text"] or a["prompt_tokens"] != b["prompt_tokens"]:
    print(f"FAIL {name}: config and flags differ:\n{a}\n{b}"); sys.exit(1)
if len(sys.argv) > 4 and a["n_gen"] != int(sys.argv[4]):
    print(f"FAIL {name}: n_gen {a['n_gen']}, want {sys.argv[4]}"); sys.exit(1)
PY
}

model=examples/models/kjv-bitnet-4m-i2_s.gguf
# The flags that spell out examples/run.yaml.
flags=(--model "$model" --prompt "In the beginning God created" --max-new-tokens 32 --temp 0.8 --top-k 40
       --top-p 0.95 --min-p 0.05 --repeat-penalty 1.1 --seed 42 --threads 2 --ctx 256 --ignore-eos --json)

check "config run" 0 '"n_prompt"' "$bitnet" run --config examples/run.yaml --ignore-eos --json
cp "$tmp/out" "$tmp/config.json"
check "flags run" 0 '"n_prompt"' "$bitnet" run "${flags[@]}"
cp "$tmp/out" "$tmp/flags.json"
same_json "config = flags" "$tmp/config.json" "$tmp/flags.json" 32

# Flags override the file: another seed, length and prompt.
check "override" 0 '"n_gen": 5' "$bitnet" run --config examples/run.yaml --seed 7 --max-new-tokens 5 \
    --prompt "And God said" --ignore-eos --json
cp "$tmp/out" "$tmp/override.json"
flags2=(--model "$model" --prompt "And God said" --max-new-tokens 5 --temp 0.8 --top-k 40 --top-p 0.95
        --min-p 0.05 --repeat-penalty 1.1 --seed 7 --threads 2 --ctx 256 --ignore-eos --json)
check "override flags" 0 '"n_gen": 5' "$bitnet" run "${flags2[@]}"
same_json "override = flags" "$tmp/override.json" "$tmp/out" 5

# Streaming (no --json) with the file alone.
check "config stream" 0 "" "$bitnet" run --config examples/run.yaml --max-new-tokens 4

# A file in another folder: model.path resolves against it.
mkdir -p "$tmp/cfg"
printf 'model:\n  path: %s/%s\ngenerate:\n  prompt: "And"\n  n_predict: 3\nsampler:\n  temperature: 0\n' \
    "$PWD" "$model" >"$tmp/cfg/abs.yaml"
check "absolute model path" 0 '"n_gen": 3' "$bitnet" run --config "$tmp/cfg/abs.yaml" --ignore-eos --json
ln -s "$PWD/examples/models" "$tmp/cfg/models"
printf 'model: {path: models/kjv-bitnet-4m-i2_s.gguf}\ngenerate: {prompt: "And", n_predict: 2}\n' >"$tmp/cfg/rel.yaml"
check "relative model path" 0 '"n_gen": 2' "$bitnet" run --config "$tmp/cfg/rel.yaml" --ignore-eos --json

# Bad files: the message names file:line:column, exit status 1.
printf 'context:\n  n_threads: 0\n' >"$tmp/bad1.yaml"
check "bad range" 1 "$tmp/bad1.yaml:2:14: context.n_threads: 0 is out of range" \
    "$bitnet" run --config "$tmp/bad1.yaml" --model "$model" --prompt x
printf 'sampler:\n  temperature: 0.5\n  top_q: 3\n' >"$tmp/bad2.yaml"
check "unknown key" 1 "$tmp/bad2.yaml:3:3: unknown key 'top_q' in section 'sampler'" \
    "$bitnet" run --config "$tmp/bad2.yaml"
printf 'model:\n  path: [a, b]\n' >"$tmp/bad3.yaml"
check "wrong type" 1 "$tmp/bad3.yaml:2:9: model.path: expected a file path, found a sequence" \
    "$bitnet" run --config "$tmp/bad3.yaml"
check "missing file" 1 "cannot open $tmp/none.yaml" "$bitnet" run --config "$tmp/none.yaml"
printf 'sampler: {temperature: 0}\n' >"$tmp/nomodel.yaml"
check "no model anywhere" 2 "are required" "$bitnet" run --config "$tmp/nomodel.yaml" --prompt x
# A value the file accepts but the library refuses later still fails cleanly.
printf 'context: {backend: no-such-backend}\n' >"$tmp/backend.yaml"
check "unknown backend" 1 "cannot create context" "$bitnet" run --config "$tmp/backend.yaml" --model "$model" \
    --prompt x

echo "cli_config: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
