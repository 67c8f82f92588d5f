#!/usr/bin/env bash
# bitnet run --save-state / --load-state: a second run whose prompt starts
# with the first run's prompt reuses the cached positions and prints the
# same text as a run without the cache; unusable caches are reported and
# ignored.
# usage: test_state_cli.sh BITNET_EXE FIXTURES_DIR
set -uo pipefail
bitnet=$1
fx=${BITNET_FIXTURES:-$2}
if [ ! -d "$fx" ]; then echo "fixtures folder not found (set BITNET_FIXTURES): skipping"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$fx/kjv-bitnet/kjv-bitnet-4m-i2_s.gguf
other=$fx/kjv-llama/kjv-llama-5m-q4_k_m.gguf
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

short="In the beginning God created"
long="In the beginning God created the heaven and the earth. And the earth was"
gen() { "$bitnet" run --model "$1" --prompt "$2" --max-new-tokens 12 --temp 0.7 --seed 11 --json "${@:3}"; }

# The first run saves its state (prompt + generated tokens, sampler).
gen "$model" "$short" --save-state "$tmp/cache.bnstate" >"$tmp/a.json" 2>"$tmp/a.err" &&
    ok || bad "save run: $(cat "$tmp/a.err")"
[ -s "$tmp/cache.bnstate" ] && ok || bad "no state file"
[ -z "$(ls "$tmp" | grep '\.tmp\.')" ] && ok || bad "temporary file left behind"
head -c 8 "$tmp/cache.bnstate" | grep -q BNSTATE && ok || bad "state magic"

# Same prompt with the cache: all but the last prompt token reused, same text.
gen "$model" "$short" --load-state "$tmp/cache.bnstate" >"$tmp/b.json" 2>"$tmp/b.err" &&
    ok || bad "load run: $(cat "$tmp/b.err")"
n_short=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["prompt_tokens"]))' "$tmp/a.json")
grep -q "reused $((n_short - 1)) of $n_short prompt tokens" "$tmp/b.err" && ok || bad "same prompt: $(cat "$tmp/b.err")"

# A longer prompt that starts with the first: the first prompt's tokens are
# reused, and the text equals a run without the cache.
gen "$model" "$long" >"$tmp/c_plain.json" 2>/dev/null && ok || bad "plain long run"
gen "$model" "$long" --load-state "$tmp/cache.bnstate" >"$tmp/c.json" 2>"$tmp/c.err" && ok || bad "cached long run"
reused=$(sed -n 's/.*reused \([0-9]*\) of.*/\1/p' "$tmp/c.err")
[ -n "$reused" ] && [ "$reused" -ge "$n_short" ] && ok ||
    bad "long prompt reused '${reused}' (want >= $n_short): $(cat "$tmp/c.err")"
python3 - "$tmp/a.json" "$tmp/b.json" "$tmp/c_plain.json" "$tmp/c.json" <<'PY' && ok || bad "texts differ"
import json, sys
a, b, cp, c = (json.load(open(p)) for p in sys.argv[1:5])
if a["tokens"] != b["tokens"] or a["text"] != b["text"]:
    print("same prompt: cached run", b["tokens"], "!= plain", a["tokens"]); sys.exit(1)
if cp["tokens"] != c["tokens"] or cp["text"] != c["text"]:
    print("long prompt: cached run", c["tokens"], "!= plain", cp["tokens"]); sys.exit(1)
PY

# Text output (not JSON) is the same too.
"$bitnet" run --model "$model" --prompt "$long" --max-new-tokens 12 --temp 0 >"$tmp/d_plain.txt" 2>/dev/null
"$bitnet" run --model "$model" --prompt "$long" --max-new-tokens 12 --temp 0 --load-state "$tmp/cache.bnstate" \
    >"$tmp/d.txt" 2>/dev/null
cmp -s "$tmp/d_plain.txt" "$tmp/d.txt" && ok || bad "greedy text differs with the cache"

# A prompt whose first token differs (no BOS) reuses nothing.
"$bitnet" run --model "$model" --prompt "And Noah" --max-new-tokens 2 --temp 0 --no-bos \
    --load-state "$tmp/cache.bnstate" >/dev/null 2>"$tmp/e.err" && ok || bad "diverging prompt run"
grep -q "reused 0 of" "$tmp/e.err" && ok || bad "diverging prompt: $(cat "$tmp/e.err")"

# Unusable caches: another model, a missing file, a damaged file, a
# context too small. The run goes on without the cache.
gen "$other" "$short" --load-state "$tmp/cache.bnstate" >"$tmp/f.json" 2>"$tmp/f.err" && ok || bad "other model run"
grep -q "prompt cache not used: bad format.*another model" "$tmp/f.err" && ok || bad "other model: $(cat "$tmp/f.err")"
gen "$model" "$short" --load-state "$tmp/missing.bnstate" >/dev/null 2>"$tmp/g.err" && ok || bad "missing cache run"
grep -q "prompt cache not used: I/O error" "$tmp/g.err" && ok || bad "missing cache: $(cat "$tmp/g.err")"
head -c 200 "$tmp/cache.bnstate" >"$tmp/cut.bnstate"
gen "$model" "$short" --load-state "$tmp/cut.bnstate" >"$tmp/h.json" 2>"$tmp/h.err" && ok || bad "truncated cache run"
grep -q "prompt cache not used: bad format" "$tmp/h.err" && ok || bad "truncated cache: $(cat "$tmp/h.err")"
python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); sys.exit(a["tokens"]!=b["tokens"])' \
    "$tmp/a.json" "$tmp/h.json" && ok || bad "truncated cache changed the text"
"$bitnet" run --model "$model" --prompt "$short" --max-new-tokens 2 --ctx 8 \
    --load-state "$tmp/cache.bnstate" >/dev/null 2>"$tmp/i.err" && ok || bad "small context run"
grep -q "prompt cache not used: out of range" "$tmp/i.err" && ok || bad "small context: $(cat "$tmp/i.err")"

# Saving into a folder that does not exist fails with a message.
gen "$model" "$short" --save-state "$tmp/no/such/dir/x" >/dev/null 2>"$tmp/j.err"
[ $? = 1 ] && grep -q "cannot save the state" "$tmp/j.err" && ok || bad "save to a missing folder: $(cat "$tmp/j.err")"

echo "cli_state: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
