#!/bin/sh
# valgrind memcheck on the bitnet CLI over the fixture models: `bitnet
# inspect` on every fixture GGUF, and a short greedy `bitnet run` (4 new
# tokens) on each model that has weights, with
# --leak-check=full --errors-for-leak-kinds=definite,indirect: any memory
# error or leak fails the run.
#
# usage: tests/valgrind/cli_memcheck.sh BITNET_CLI [FIXTURES_DIR] [--runs all|some|none]
#
#   --runs some (the default) runs one model of each fixture family and
#   weight kind (llama F32/F16/BF16/K-quant/legacy, BitNet I2_S/TQ1_0/TQ2_0/F16,
#   stories260k); all runs every model; none only inspects.
# Prints "N passed, N failed"; exit 0 when nothing failed, 77 (skip) when
# valgrind or the fixtures are missing.
set -u

if [ $# -lt 1 ]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
cli=$1
shift
fixtures=
runs=some
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=${2:-some}; shift 2 ;;
    *) fixtures=$1; shift ;;
    esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=${fixtures:-${BITNET_FIXTURES:-$root/../shared/fixtures}}

if ! command -v valgrind >/dev/null; then
    echo "valgrind not found: skipping"
    exit 77
fi
if [ ! -d "$fixtures" ]; then
    echo "fixtures folder not found (set BITNET_FIXTURES): skipping"
    exit 77
fi

# Run one model of each of these (by file name), or every model with --runs all.
some="stories260k-q4_0 kjv-llama-5m-q4_k_m kjv-llama-5m-bf16 kjv-llama-5m-q5_1 kjv-bitnet-4m-i2_s
kjv-bitnet-4m-tq1_0 kjv-bitnet-4m-tq2_0 kjv-bitnet-4m-f16"

vg() { # label, command...
    label=$1
    shift
    log=$(mktemp)
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "$@" >/dev/null 2>"$log"; then
        passed=$((passed + 1))
    else
        rc=$?
        echo "FAILED (exit $rc): $label"
        sed 's/^/    /' "$log" | tail -n 40
        failed=$((failed + 1))
    fi
    rm -f "$log"
}

passed=0
failed=0
for f in $(find "$fixtures" -type f -name '*.gguf' | sort); do
    name=$(basename "$f" .gguf)
    vg "inspect $name" "$cli" inspect --model "$f"
    case "$f" in */vocab/*) continue ;; esac # vocabulary only: no weights to run
    case $runs in
    none) continue ;;
    some) echo "$some" | tr ' ' '\n' | grep -qx "$name" || continue ;;
    esac
    vg "run $name" "$cli" run --model "$f" --prompt "In the beginning God" --max-new-tokens 4 --temp 0
done
echo "valgrind CLI: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
