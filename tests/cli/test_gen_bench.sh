#!/usr/bin/env bash
# bitnet gen-model and bitnet bench end to end: tiny synthetic models of every
# arch and weight type load (inspect), generate (run), are deterministic per
# seed, and bench writes JSON with the fields the comparison scripts read.
# usage: test_gen_bench.sh BITNET_EXE
set -uo pipefail
bitnet=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0

check() { # name, expected exit status, expected stdout/stderr substring, command...
    local name=$1 want=$2 text=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" != "$want" ] || ! grep -qF -- "$text" "$tmp/out" "$tmp/err"; then
        echo "FAIL $name: exit $rc (want $want), output:"; head -c 600 "$tmp/out" "$tmp/err"; echo
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

for arch in bitnet-b1.58 bitnet llama; do
    for type in i2_s tq1_0 tq2_0 q8_0 f16; do
        m=$tmp/$arch-$type.gguf
        check "gen $arch $type" 0 "wrote" "$bitnet" gen-model --out "$m" --shape small --arch "$arch" --type "$type"
        check "inspect $arch $type" 0 "\"$arch\"" "$bitnet" inspect --model "$m"
        check "run $arch $type" 0 '"n_gen": 3' "$bitnet" run --model "$m" --prompt "the beginning" \
            --max-new-tokens 3 --temp 0 --ignore-eos --json
    done
done
for head in q8_0 q6_k; do
    m=$tmp/head-$head.gguf
    check "gen head $head" 0 "$head embedding" "$bitnet" gen-model --out "$m" --shape small --head "$head" --layers 1
    check "inspect head $head" 0 "token_embd.weight                $head" "$bitnet" inspect --model "$m"
    check "run head $head" 0 '"n_gen": 2' "$bitnet" run --model "$m" --prompt "x" --max-new-tokens 2 --temp 0 \
        --ignore-eos --json
done

# Same seed, same bytes; another seed, other bytes.
"$bitnet" gen-model --out "$tmp/a.gguf" --shape small --seed 5 >/dev/null 2>&1
"$bitnet" gen-model --out "$tmp/b.gguf" --shape small --seed 5 >/dev/null 2>&1
"$bitnet" gen-model --out "$tmp/c.gguf" --shape small --seed 6 >/dev/null 2>&1
if cmp -s "$tmp/a.gguf" "$tmp/b.gguf" && ! cmp -s "$tmp/a.gguf" "$tmp/c.gguf"; then
    pass=$((pass + 1))
else
    echo "FAIL gen-model is not deterministic per seed"; fails=$((fails + 1))
fi

m=$tmp/bitnet-b1.58-i2_s.gguf
check "bench json" 0 "" "$bitnet" bench --model "$m" -p 8 -n 4 -r 1 -t 1,2 --bw-mib 16 --json "$tmp/bench.json"
python3 - "$tmp/bench.json" "$m" <<'PY' && pass=$((pass + 1)) || { echo "FAIL bench json"; fails=$((fails + 1)); }
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1
for k in ("version", "git_commit"):
    assert isinstance(d["library"][k], str) and d["library"][k], k
m = d["model"]
assert m["sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(), "sha256"
assert m["size_bytes"] > 0 and m["weight_bytes_per_token"] > 0 and m["architecture"] == "bitnet-b1.58"
assert "i2_s" in m["tensor_types"] and m["weight_type"] == "i2_s"
s = d["system"]
assert s["cpu_model"] and isinstance(s["cpu_flags"], list) and s["n_cpus"] >= 1
assert [r["threads"] for r in d["results"]] == [1, 2]
for r in d["results"]:
    assert r["backend"]
    for test in ("pp", "tg"):
        t = r[test]["tokens_per_s"]
        assert t["mean"] > 0 and len(t["samples"]) == 1, test
    assert r["load_ms"]["mean"] > 0 and r["peak_rss_bytes"] > 0
    assert r["tg"]["implied_gbps"] > 0 and r["read_bandwidth_gbps"] > 0
    assert r["store_stats"]["bytes_mapped"] > 0
    fm = r["model_file_mapping"]  # the mapped file, read by pp and tg
    assert fm["bytes_resident"] > 0 and 0 <= fm["bytes_in_2mib_pages"] <= fm["bytes_resident"], fm
PY
# The bandwidth child bench spawns: a positive GB/s, or exit 2 on bad arguments.
check "bandwidth child" 0 "" "$bitnet" __read-bandwidth 1 1048576 1
python3 -c 'import sys; v = float(open(sys.argv[1]).read()); assert v > 0, v' "$tmp/out" && pass=$((pass + 1)) || { echo "FAIL bandwidth child output"; fails=$((fails + 1)); }
check "bandwidth child threads 0" 2 "usage" "$bitnet" __read-bandwidth 0 1048576 1
check "bandwidth child bytes junk" 2 "usage" "$bitnet" __read-bandwidth 1 12x 1
check "bandwidth child bytes negative" 2 "usage" "$bitnet" __read-bandwidth 1 -5 1
check "bench md" 0 "| model |" "$bitnet" bench --model "$m" -p 4 -n 2 -r 1 -t 1 --bw-mib 0 --no-sha --md
grep -q "tg2" "$tmp/out" && pass=$((pass + 1)) || { echo "FAIL bench md has no tg2 row"; fails=$((fails + 1)); }
check "bench json stdout" 0 '"schema_version": 1' "$bitnet" bench --model "$m" -p 4 -n 0 -r 1 -t 1 --bw-mib 0 --json -

check "gen no out" 2 "--out" "$bitnet" gen-model --shape small
check "gen bad type" 2 "--type" "$bitnet" gen-model --out "$tmp/x.gguf" --type q4_0
check "gen bad shape" 2 "--shape" "$bitnet" gen-model --out "$tmp/x.gguf" --shape huge
check "gen bad dir" 1 "cannot create" "$bitnet" gen-model --out "$tmp/no/such/dir.gguf" --shape small
check "bench no model" 2 "--model" "$bitnet" bench -p 8
check "bench threads 0" 2 "-t" "$bitnet" bench --model "$m" -t 0
check "bench threads list" 2 "-t" "$bitnet" bench --model "$m" -t 1,
check "bench nothing" 2 "nothing" "$bitnet" bench --model "$m" -p 0 -n 0
check "bench missing file" 1 "cannot load" "$bitnet" bench --model "$tmp/none.gguf"

echo "gen/bench CLI: $pass passed, $fails failed"
[ "$fails" = 0 ]
