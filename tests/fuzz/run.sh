#!/usr/bin/env bash
# Runs the GGUF loader fuzzer for a bounded time: tests/fuzz/run.sh BUILD_DIR SECONDS
# Seeds come from the fixtures (make_corpus.sh); crashes are saved as
# BUILD_DIR/fuzz-artifacts/crash-* and fail the run. Prints executions and coverage.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
corpus="$build/fuzz-corpus-gguf"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
"$here/make_corpus.sh" "$corpus" >/dev/null
# Seeds kept as regression inputs (every crash ever found lives there too).
[ -d "$here/regressions" ] && cp -n "$here"/regressions/* "$corpus"/ 2>/dev/null || true
log="$build/fuzz-gguf.log"
set +e
ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz_gguf" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -dict="$here/gguf.dict" -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
set -e
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
cov=$(grep -E '#[0-9]+.*cov:' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/')
echo "fuzz_gguf: ${execs:-?} executions in ${seconds}s, ${cov:-no coverage line}, exit $rc"
if [ $rc -ne 0 ]; then
    tail -n 40 "$log"
    exit 1
fi
