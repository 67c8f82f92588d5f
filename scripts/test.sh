#!/usr/bin/env bash
# The whole default test suite (the README's second Quick start command):
#   1. release build, every test; the Python, Rust and Go bindings' tests against it
#   2. ASan+UBSan build, every test (golden parity on the first case of each model)
#   3. install into a temporary root, build a pkg-config consumer and examples/simple.c,
#      simple.cpp against it out of tree, compare their greedy text with the CLI's
#   4. valgrind memcheck over the loader suites, and on the CLI (inspect every fixture, run some)
#   5. TSan build, the concurrency tests
#   6. libFuzzer (clang): the six harnesses (tests/fuzz) for $BITNET_FUZZ_SECONDS each (default 22)
# Prints "N passed, N failed" at the end; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${BITNET_FUZZ_SECONDS:-22}
passed=0
failed=0

setup() { # dir, options...
    local dir=$1; shift
    # A folder left by an interrupted configure is not a build tree: start over.
    [ -d "$dir" ] && [ ! -f "$dir/meson-private/coredata.dat" ] && rm -rf "$dir"
    if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@" >/dev/null; fi \
        && ninja -C "$dir" >/dev/null
}

# Runs meson test and adds its counts to the totals.
run_tests() { # label, dir, meson test args...
    local label=$1 dir=$2; shift 2
    echo "== $label"
    meson test -C "$dir" --print-errorlogs "$@" | tail -n 12
    local log  # meson names the log after a wrapper (testlog-valgrind.json): take the newest
    log=$(ls -t "$dir"/meson-logs/testlog*.json | head -n 1)
    local counts
    counts=$(python3 - "$log" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "SKIP", "EXPECTEDFAIL"): ok += 1
    else: bad += 1
print(ok, bad)
PY
)
    passed=$((passed + ${counts% *}))
    failed=$((failed + ${counts#* }))
}

step_failed() { echo "FAILED: $1"; failed=$((failed + 1)); }

# The Python, Rust and Go bindings against a build (bindings/test.sh); one
# whose toolchain is missing is skipped with a message (exit 77).
run_bindings() { # build dir
    local b rc
    for b in python rust go; do
        echo "== bindings: $b"
        bindings/test.sh "$b" "$1"
        rc=$?
        if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); elif [ "$rc" -ne 77 ]; then step_failed "bindings ($b)"; fi
    done
}

setup build-test -Dbuildtype=debugoptimized && run_tests "release build" build-test || step_failed "build (release)"
[ -e build-test/lib/libbitnet.so ] && run_bindings build-test
setup build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       BITNET_GOLDEN_QUICK=1 run_tests "ASan+UBSan" build-asan || step_failed "build (asan)"
echo "== install + pkg-config consumer"
if tests/check_install.sh build-test examples/models/kjv-bitnet-4m-i2_s.gguf; then
    passed=$((passed + 1))
else
    step_failed "install check"
fi
if command -v valgrind >/dev/null; then
    run_tests "valgrind memcheck" build-test --suite loader \
        --wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect -q' \
        --timeout-multiplier 10
    echo "== valgrind memcheck: CLI over the fixtures"
    tests/valgrind/cli_memcheck.sh build-test/tools/bitnet/bitnet --runs some; rc=$?
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); elif [ "$rc" -ne 77 ]; then step_failed "valgrind CLI"; fi
fi
CC=clang setup build-tsan -Dbuildtype=debug -Db_sanitize=thread -Db_lundef=false \
    && TSAN_OPTIONS=halt_on_error=1 run_tests "TSan" build-tsan --suite concurrency || step_failed "build (tsan)"
if command -v clang >/dev/null && [ "$fuzz_seconds" -gt 0 ]; then
    echo "== libFuzzer: gguf, tokenizer, config, state, decode harnesses, ${fuzz_seconds}s each"
    if CC=clang setup build-fuzz -Dbuildtype=debugoptimized -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
        && tests/fuzz/run.sh build-fuzz "$fuzz_seconds" \
        && tests/fuzz/run_safetensors.sh build-fuzz "$fuzz_seconds"; then
        passed=$((passed + 1))
    else
        step_failed "fuzz"
    fi
fi
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
