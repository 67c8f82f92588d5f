#!/usr/bin/env bash
# Runs the libFuzzer harnesses for a bounded time each:
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]
#
# HARNESS: gguf tokenizer config state decode (default: all, SECONDS each).
# BUILD_DIR is a -Dfuzz=enabled build (clang). Each harness keeps its corpus
# in BUILD_DIR/fuzz-corpus-HARNESS (seeded by seeds.sh and regressions/HARNESS;
# what libFuzzer finds is kept there for the next run); crashes, leaks and
# timeouts are saved as BUILD_DIR/fuzz-artifacts/HARNESS/{crash,leak,timeout}-*
# and fail the run. Prints executions and coverage per harness.
# BITNET_FUZZ_TIMEOUT: wall-clock seconds one input may take (default 30,
# generous because a niced run on a busy machine gets little CPU).
set -euo pipefail
build=${1:?build dir}
seconds=${2:-20}
shift 2 || shift $#
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(gguf tokenizer config state decode)
here=$(cd "$(dirname "$0")" && pwd)

dict_of() {
    case $1 in
    gguf | decode) echo "$here/gguf.dict" ;;
    config) echo "$here/yaml.dict" ;;
    state) echo "$here/state.dict" ;;
    tokenizer) echo "$here/tokenizer.dict" ;;
    esac
}

rc_all=0
for h in "${harnesses[@]}"; do
    exe="$build/tests/fuzz_$h"
    if [ ! -x "$exe" ]; then
        echo "fuzz_$h: $exe not built (configure with CC=clang -Dfuzz=enabled)"
        rc_all=1
        continue
    fi
    corpus="$build/fuzz-corpus-$h"
    artifacts="$build/fuzz-artifacts/$h"
    mkdir -p "$corpus" "$artifacts"
    "$here/seeds.sh" "$h" "$corpus" "$build/tests/gen_seeds" >/dev/null
    [ -d "$here/regressions/$h" ] && cp -n "$here/regressions/$h"/* "$corpus"/ 2>/dev/null || true
    log="$build/fuzz-$h.log"
    set +e
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        OPENBLAS_NUM_THREADS=1 "$exe" -max_total_time="$seconds" -timeout="${BITNET_FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$(dict_of "$h")" -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -E '#[0-9]+.*cov:' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/')
    echo "fuzz_$h: ${execs:-?} executions in ${seconds}s, ${cov:-no coverage line}, exit $rc"
    if [ $rc -ne 0 ]; then
        tail -n 40 "$log"
        rc_all=1
    fi
done
exit $rc_all
