#!/usr/bin/env bash
# libbitnet against llama.cpp and bitnet.cpp on the same GGUF files: prefill
# (pp) and decode (tg) tokens/s, runs alternating A B C A B C so drift (heat,
# page cache, other load) hits every implementation alike, then a table of
# the ratios libbitnet / peer (> 1: libbitnet is faster).
#
# usage: scripts/bench-peers.sh MODEL[=PEER_MODEL] ...
#   MODEL is what libbitnet runs; the peers run PEER_MODEL (default: MODEL).
# environment:
#   LLAMA_BENCH       llama.cpp's llama-bench (unset: skipped)
#   BITNET_CPP_BENCH  bitnet.cpp's llama-bench (unset: skipped)
#   BITNET            libbitnet's CLI (default: build/tools/bitnet/bitnet)
#   BITNET_ARGS       extra arguments for `bitnet bench`, after the defaults
#                     (--kv-type f16, llama-bench's KV type); e.g. "-r 1 --head-type q8_0"
#   THREADS P N REPS  llama-bench's -t -p -n -r (default 2 128 64 5)
#   ROUNDS            how many A B C rounds (default 2)
#   LIB_ROUNDS        libbitnet runs only in the first LIB_ROUNDS rounds (default
#                     ROUNDS; 1 saves time while libbitnet is much slower)
#   REPORT_ONLY=1     run nothing: rebuild the table from $OUT/manifest.tsv
#   OUT               folder for the JSON files (default: bench-peers-<date>)
#   LLAMA_LABEL BITNET_CPP_LABEL  names in the table (default llama.cpp, bitnet.cpp)
#   IDLE_WAIT         before each run, wait up to this many seconds for the CPUs
#                     to be >= 85% idle (shared machines; default 300, 0 = off)
#   MAX_OTHER_CPU     a run during which other processes used more than this share
#                     of the CPUs is repeated (default 0.10) ...
#   RETRIES           ... up to this many times (default 2); the cleanest try is kept
# Results: $OUT/*.json per run, $OUT/bench-peers.json (all records, for
# scripts/plot-bench.py), the table on stdout and in $OUT/table.md. The table
# gives mean ± spread and the best repetition, and, per row, the largest share
# of the CPUs that other processes used during its runs ("others' CPU"): on a
# shared machine the best repetitions are the cleaner numbers.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bitnet=${BITNET:-$root/build/tools/bitnet/bitnet}
threads=${THREADS:-2}
p=${P:-128}
n=${N:-64}
reps=${REPS:-5}
rounds=${ROUNDS:-2}
lib_rounds=${LIB_ROUNDS:-$rounds}
max_other=${MAX_OTHER_CPU:-0.10}
retries=${RETRIES:-2}
out=${OUT:-bench-peers-$(date -u +%Y%m%dT%H%M%SZ)}
llama_label=${LLAMA_LABEL:-llama.cpp}
bitnet_cpp_label=${BITNET_CPP_LABEL:-bitnet.cpp}

if [ $# -eq 0 ] && [ -z "${REPORT_ONLY:-}" ]; then
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
[ -n "${REPORT_ONLY:-}" ] || [ -x "$bitnet" ] || { echo "bench-peers: $bitnet is not built (set BITNET)" >&2; exit 1; }
mkdir -p "$out"

peers=()
[ -n "${LLAMA_BENCH:-}" ] && peers+=("$llama_label=$LLAMA_BENCH")
[ -n "${BITNET_CPP_BENCH:-}" ] && peers+=("$bitnet_cpp_label=$BITNET_CPP_BENCH")
[ ${#peers[@]} -eq 0 ] && echo "bench-peers: neither LLAMA_BENCH nor BITNET_CPP_BENCH is set: libbitnet only" >&2

# Busy fraction of all CPUs over 2 s, from /proc/stat.
cpu_busy() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
    sleep 2
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=(y[1]-x[1])+(y[2]-x[2]);
        printf "%.2f", (t > 0 ? (y[1]-x[1])/t : 0)}'
}
wait_idle() {
    local limit=${IDLE_WAIT:-300} waited=0 busy
    [ "$limit" -gt 0 ] || return 0
    while busy=$(cpu_busy); awk -v b="$busy" 'BEGIN{exit !(b > 0.15)}'; do
        waited=$((waited + 2))
        if [ "$waited" -ge "$limit" ]; then
            echo "bench-peers: CPUs still ${busy} busy after ${limit} s: measuring anyway" >&2
            return 0
        fi
    done
}

# Run a command; afterwards $1.other holds the share of all CPUs that other
# processes used meanwhile (system busy time from /proc/stat minus the
# command's own user+system time from /usr/bin/time), "" when unknown.
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
run_measured() {
    local tag=$1 rc b0 b1; shift
    b0=$(busy_jiffies)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -o "$tag.time" -f "%U %S %e" "$@"
    else
        "$@"
    fi
    rc=$?
    b1=$(busy_jiffies)
    if [ -s "$tag.time" ]; then
        awk -v b0="$b0" -v b1="$b1" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
            '{o = ((b1 - b0) / hz - ($1 + $2)) / ($3 * n); printf "%.3f\n", o < 0 ? 0 : o}' \
            "$tag.time" | tail -n 1 >"$tag.other"
    else
        : >"$tag.other"
    fi
    return $rc
}

# Run a benchmark, again while other processes took more than max_other of
# the CPUs during it (retries more tries at most); the cleanest try becomes
# $1 and its others' share $1.other. mode lib: the command writes JSON to
# the path given with --json; peer: to stdout (stderr to $1.log).
run_clean() {
    local j=$1 mode=$2 k other best=""; shift 2
    for ((k = 0; k <= retries; k++)); do
        wait_idle
        if [ "$mode" = lib ]; then
            run_measured "$j.try" "$@" --json "$j.try" >&2
        else
            run_measured "$j.try" "$@" >"$j.try" 2>"$j.log" &&
                python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))' "$j.try" 2>/dev/null
        fi || { rm -f "$j.try" "$j.try.other" "$j.try.time"; return 1; }
        other=$(cat "$j.try.other")
        if [ -z "$best" ] || awk -v a="${other:-0}" -v b="$best" 'BEGIN{exit !(a < b)}'; then
            best=${other:-0}
            mv "$j.try" "$j"
            cp "$j.try.other" "$j.other"
        fi
        awk -v a="${other:-0}" -v m="$max_other" 'BEGIN{exit !(a <= m)}' && break
        [ "$k" -lt "$retries" ] && echo "bench-peers: other processes used ${other} of the CPUs: once more" >&2
    done
    rm -f "$j.try" "$j.try.other" "$j.try.time"
    return 0
}

manifest=$out/manifest.tsv # impl, libbitnet model, peer model, round, json file, others' CPU
[ -n "${REPORT_ONLY:-}" ] && set -- # aggregate what the manifest lists
[ -n "${REPORT_ONLY:-}" ] || : >"$manifest"
declare -A failed
idx=0
for spec in "$@"; do
    model=${spec%%=*}
    peer_model=$model
    [[ "$spec" == *=* ]] && peer_model=${spec#*=}
    for f in "$model" "$peer_model"; do
        [ -f "$f" ] || { echo "bench-peers: no such model file: $f" >&2; exit 1; }
    done
    idx=$((idx + 1))
    for ((round = 1; round <= rounds; round++)); do
        j=$out/m$idx-r$round-libbitnet.json
        if [ "$round" -le "$lib_rounds" ]; then
            echo "== round $round/$rounds: libbitnet on $(basename "$model")" >&2
            # shellcheck disable=SC2086 # BITNET_ARGS is a list of words
            if run_clean "$j" lib "$bitnet" bench --model "$model" -p "$p" -n "$n" -t "$threads" -r "$reps" \
                --kv-type f16 ${BITNET_ARGS:-}; then
                printf 'libbitnet\t%s\t%s\t%s\t%s\t%s\n' "$model" "$model" "$round" "$j" "$(cat "$j.other")" \
                    >>"$manifest"
            else
                echo "bench-peers: libbitnet failed on $model" >&2
            fi
        fi
        for peer in ${peers[@]+"${peers[@]}"}; do
            label=${peer%%=*}
            exe=${peer#*=}
            key="$label|$peer_model"
            [ -n "${failed[$key]:-}" ] && continue
            j=$out/m$idx-r$round-${label//[^A-Za-z0-9_.-]/_}.json
            echo "== round $round/$rounds: $label on $(basename "$peer_model")" >&2
            if run_clean "$j" peer "$exe" -m "$peer_model" -p "$p" -n "$n" -t "$threads" -r "$reps" -o json; then
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$model" "$peer_model" "$round" "$j" "$(cat "$j.other")" \
                    >>"$manifest"
            else
                failed[$key]=1
                echo "bench-peers: $label cannot run $peer_model (see $j.log):" >&2
                tail -n 3 "$j.log" >&2
                printf '%s\t%s\t%s\t%s\t%s\t\n' "$label" "$model" "$peer_model" "$round" "FAILED:$j.log" >>"$manifest"
            fi
        done
    done
done

python3 - "$manifest" "$out" "$llama_label" "$bitnet_cpp_label" <<'PY'
import json, os, statistics, sys

manifest, out, *peer_labels = sys.argv[1:]
records, failed, meta = [], set(), {}
for line in open(manifest):
    impl, model, peer_model, rnd, path, *rest = line.rstrip("\n").split("\t")
    other = float(rest[0]) if rest and rest[0] else None
    key_model = os.path.basename(model)
    if path.startswith("FAILED:"):
        failed.add((impl, key_model))
        continue
    d = json.load(open(path))
    if impl == "libbitnet":
        meta.setdefault("libbitnet", {"version": d["library"]["version"], "git_commit": d["library"]["git_commit"],
                                      "git_dirty": d["library"].get("git_dirty"), "cpu": d["system"]["cpu_model"]})
        for r in d["results"]:
            impl_name = "libbitnet/" + r["backend"]
            for kind in ("pp", "tg"):
                t = r[kind]
                if t["n_tokens"] > 0:
                    records.append(dict(impl="libbitnet", backend=r["backend"], model=key_model,
                                        test="%s%d" % (kind, t["n_tokens"]), threads=r["threads"], round=int(rnd),
                                        mean=t["tokens_per_s"]["mean"], sd=t["tokens_per_s"]["stddev"],
                                        best=max(t["tokens_per_s"]["samples"]), other_cpu=other))
    else:
        for r in d:
            test = "pp%d" % r["n_prompt"] if r.get("n_gen", 0) == 0 else "tg%d" % r["n_gen"]
            meta.setdefault(impl, {"build_commit": r.get("build_commit"), "build_number": r.get("build_number"),
                                   "cpu_info": r.get("cpu_info"), "backends": r.get("backends")})
            records.append(dict(impl=impl, model=key_model, peer_model=os.path.basename(peer_model), test=test,
                                threads=r["n_threads"], round=int(rnd), mean=r["avg_ts"], sd=r["stddev_ts"],
                                best=max(r.get("samples_ts") or [r["avg_ts"]]), other_cpu=other))

json.dump({"schema": "bench-peers", "schema_version": 1, "implementations": meta, "records": records,
           "failed": sorted("%s on %s" % f for f in failed)}, open(os.path.join(out, "bench-peers.json"), "w"), indent=1)

def agg(impl, model, test, threads):
    """Mean of the runs' means; spread: stddev of those means over rounds, or
    the run's own stddev over its repetitions when there was one round."""
    rs = [r for r in records if r["impl"] == impl and r["model"] == model and r["test"] == test
          and r["threads"] == threads]
    if not rs:
        return None
    v = [r["mean"] for r in rs]
    best = max(r.get("best", r["mean"]) for r in rs)
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else rs[0]["sd"]), best

def other_cpu(model, test, threads):
    o = [r["other_cpu"] for r in records if r["model"] == model and r["test"] == test and r["threads"] == threads
         and r.get("other_cpu") is not None]
    return "%.0f%%" % (100 * max(o)) if o else "?"

keys = []
for r in records:
    k = (r["model"], r["test"], r["threads"])
    if k not in keys:
        keys.append(k)
peers = [p for p in peer_labels if any(r["impl"] == p for r in records) or any(f[0] == p for f in failed)]
head = "| model | test | threads | libbitnet t/s (best) |"
sep = "| --- | --- | ---: | ---: |"
for p in peers:
    head += " %s t/s (best) | libbitnet / %s (best) |" % (p, p)
    sep += " ---: | ---: |"
head += " others' CPU |"
sep += " ---: |"
lines = [head, sep]
for model, test, threads in keys:
    a = agg("libbitnet", model, test, threads)
    row = "| %s | %s | %d | %s |" % (model, test, threads, "%.2f ± %.2f (%.2f)" % a if a else "n/a")
    for p in peers:
        b = agg(p, model, test, threads)
        if b is None:
            why = "load failed" if (p, model) in failed else "n/a"
            row += " %s | n/a |" % why
        else:
            ratio = "%.2fx (%.2fx)" % (a[0] / b[0], a[2] / b[2]) if a and b[0] > 0 and b[2] > 0 else "n/a"
            row += " %.2f ± %.2f (%.2f) | %s |" % (b[0], b[1], b[2], ratio)
    lines.append(row + " %s |" % other_cpu(model, test, threads))
note = ("(t/s: mean of the rounds' means ± their stddev, or ± the stddev over the repetitions when one "
        "round ran; (best): the fastest repetition of any round; ratios > 1: libbitnet faster; others' CPU: "
        "the largest share of the CPUs other processes used during one of the row's runs)")
text = "\n".join(lines) + "\n\n" + note + "\n"
open(os.path.join(out, "table.md"), "w").write(text)
print(text, end="")
PY
echo "JSON: $out/bench-peers.json   chart: scripts/plot-bench.py $out/chart.svg $out/bench-peers.json" >&2
