#!/usr/bin/env bash
# Long fuzzing campaign (hours), not part of the default suite:
#
#   tests/fuzz/run-long.sh [BUILD_DIR] [SECONDS_PER_HARNESS] [JOBS] [HARNESS...]
#
# Defaults: build-fuzz (configured and built here when missing: clang,
# -Dfuzz=enabled, ASan+UBSan), 3600 s per harness, JOBS = half the CPUs
# (at least 1), every harness (gguf tokenizer config state decode
# safetensors), one after the other. Each runs libFuzzer in fork mode (-fork=JOBS) and keeps
# going after a crash, leak, timeout or out-of-memory (-ignore_*=1): every
# finding is saved as BUILD_DIR/fuzz-artifacts/HARNESS/{crash,leak,timeout,oom}-*
# and the corpus grows in BUILD_DIR/fuzz-corpus-HARNESS. Minimize a finding
# with `BUILD_DIR/tests/fuzz_HARNESS -minimize_crash=1 -runs=10000 FILE`, fix
# it and keep the input under tests/fuzz/regressions/HARNESS/.
#
# Prints the executions, coverage and findings of each harness and the total
# executions; exits 1 when anything was found.
# BITNET_FUZZ_TIMEOUT: wall-clock seconds one input may take (default 30).
set -uo pipefail

# All in one function, called on the line that also exits: bash has parsed
# everything it will run before it starts, so editing this file while a
# campaign is under way does not disturb it.
main() {
    cd "$(dirname "$0")/../.."
    build=${1:-build-fuzz}
    seconds=${2:-3600}
    jobs=${3:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}
    shift 3 2>/dev/null || shift $#
    harnesses=("$@")
    [ ${#harnesses[@]} -gt 0 ] || harnesses=(gguf tokenizer config state decode safetensors)
    here=tests/fuzz

    if [ ! -x "$build/tests/fuzz_gguf" ]; then
        [ -d "$build" ] && [ ! -f "$build/meson-private/coredata.dat" ] && rm -rf "$build"
        if [ ! -d "$build" ]; then
            CC=clang meson setup "$build" -Dbuildtype=debugoptimized -Dfuzz=enabled \
                -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
        fi
        ninja -C "$build" >/dev/null || exit 1
    fi

    dict_of() {
        case $1 in
        gguf | decode) echo "$here/gguf.dict" ;;
        config) echo "$here/yaml.dict" ;;
        state) echo "$here/state.dict" ;;
        tokenizer) echo "$here/tokenizer.dict" ;;
        safetensors) echo "$here/safetensors.dict" ;;
        esac
    }

    total=0
    found=0
    for h in "${harnesses[@]}"; do
        corpus="$build/fuzz-corpus-$h"
        artifacts="$build/fuzz-artifacts/$h"
        mkdir -p "$corpus" "$artifacts"
        if [ "$h" = safetensors ]; then
            "$build/tests/gen_seeds_safetensors" "$corpus" "${BITNET_FIXTURES:-../shared/fixtures}" >/dev/null 2>&1 \
                || "$build/tests/gen_seeds_safetensors" "$corpus" >/dev/null
        else
            "$here/seeds.sh" "$h" "$corpus" "$build/tests/gen_seeds" >/dev/null
        fi
        [ -d "$here/regressions/$h" ] && cp -n "$here/regressions/$h"/* "$corpus"/ 2>/dev/null || true
        before=$(find "$artifacts" -type f | wc -l)
        log="$build/fuzz-long-$h.log"
        echo "fuzz_$h: ${seconds}s, $jobs job(s), log $log"
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            OPENBLAS_NUM_THREADS=1 "$build/tests/fuzz_$h" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
            -max_total_time="$seconds" -timeout="${BITNET_FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 -dict="$(dict_of "$h")" \
            -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
        # Fork mode reports "#EXECS: cov: ... ft: ... crash: ..." lines.
        last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
        execs=$(printf '%s' "$last" | sed -E 's/^#([0-9]+):.*/\1/')
        cov=$(printf '%s' "$last" | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/')
        new=$(( $(find "$artifacts" -type f | wc -l) - before ))
        echo "fuzz_$h: ${execs:-0} executions, ${cov:-no coverage line}, $new new finding(s) in $artifacts"
        total=$((total + ${execs:-0}))
        found=$((found + new))
    done
    echo "total: $total executions, $found finding(s)"
    [ "$found" -eq 0 ]
}
main "$@"; exit $?
