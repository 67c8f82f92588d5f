#!/usr/bin/env bash
# Runs the libFuzzer harness fuzz_safetensors (Hugging Face directories:
# SafeTensors headers, config.json, tokenizer.json) for a bounded time:
#
#   tests/fuzz/run_safetensors.sh BUILD_DIR SECONDS [FIXTURES_DIR]
#
# BUILD_DIR is a -Dfuzz=enabled build (clang). The corpus is kept in
# BUILD_DIR/fuzz-corpus-safetensors (seeded by gen_seeds_safetensors and
# regressions/safetensors); crashes, leaks and timeouts are saved as
# BUILD_DIR/fuzz-artifacts/safetensors/{crash,leak,timeout}-* and fail the
# run. Prints executions and coverage.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=${3:-${BITNET_FIXTURES:-$root/../shared/fixtures}}
exe="$build/tests/fuzz_safetensors"
if [ ! -x "$exe" ]; then
    echo "fuzz_safetensors: $exe not built (configure with CC=clang -Dfuzz=enabled)"
    exit 1
fi
corpus="$build/fuzz-corpus-safetensors"
artifacts="$build/fuzz-artifacts/safetensors"
mkdir -p "$corpus" "$artifacts"
if [ -d "$fixtures" ]; then
    "$build/tests/gen_seeds_safetensors" "$corpus" "$fixtures" >/dev/null
else
    "$build/tests/gen_seeds_safetensors" "$corpus" >/dev/null
fi
[ -d "$here/regressions/safetensors" ] && cp -n "$here/regressions/safetensors"/* "$corpus"/ 2>/dev/null || true
log="$build/fuzz-safetensors.log"
set +e
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="$here/safetensors.dict" -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
set -e
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
cov=$(grep -E '#[0-9]+.*cov:' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/')
echo "fuzz_safetensors: ${execs:-?} executions in ${seconds}s, ${cov:-no coverage line}, exit $rc"
if [ $rc -ne 0 ]; then
    tail -n 40 "$log"
    exit 1
fi
