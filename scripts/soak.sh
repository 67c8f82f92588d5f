#!/usr/bin/env bash
# Soak test (not in the default suite): the many-contexts load test under
# ASan+UBSan for a long time, with RSS watched from outside.
#
#   scripts/soak.sh [SECONDS]          default 600 (10 minutes)
#
# Environment: SOAK_BUILD (build folder, default build-soak: configured and
# built here, debugoptimized, -Db_sanitize=address,undefined), SOAK_CONTEXTS
# (16), SOAK_THREADS (2), SOAK_MODEL (default: the kjv-llama Q4_K_M fixture),
# SOAK_WARMUP (seconds not judged for RSS growth, default a tenth of the run,
# at least 30), SOAK_MAX_GROWTH_KIB (largest RSS rise allowed after the
# warm-up, default 8192), SOAK_SAMPLE (seconds between RSS samples, 5).
#
# tests/load/multi_context drives SOAK_CONTEXTS contexts of one model from
# SOAK_THREADS threads and checks every generation against a single-context
# run. ASan keeps freed blocks in a quarantine (256 MiB by default), which
# alone would make RSS climb for minutes; it is set to 16 MiB here
# (quarantine_size_mb), so that after the warm-up RSS must stay flat. The
# RSS of the process is sampled every SOAK_SAMPLE seconds; the figures
# (start, after warm-up, peak and end) are printed. Exit 1 on any ASan/UBSan
# report, leak, mismatched output, or RSS growth past the limit.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
build=${SOAK_BUILD:-build-soak}
contexts=${SOAK_CONTEXTS:-16}
threads=${SOAK_THREADS:-2}
warmup=${SOAK_WARMUP:-$(( seconds / 10 > 30 ? seconds / 10 : 30 ))}
max_growth=${SOAK_MAX_GROWTH_KIB:-8192}
sample=${SOAK_SAMPLE:-5}

[ -d "$build" ] && [ ! -f "$build/meson-private/coredata.dat" ] && rm -rf "$build"
if [ ! -d "$build" ]; then
    meson setup "$build" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
        >/dev/null || exit 1
fi
ninja -C "$build" tests/multi_context >/dev/null || exit 1

model_args=()
[ -n "${SOAK_MODEL:-}" ] && model_args=(--model "$SOAK_MODEL")
out=$(mktemp)
rss_log=$(mktemp)
trap 'rm -f "$out" "$rss_log"' EXIT

echo "soak: $contexts contexts, $threads threads, ${seconds}s under ASan+UBSan ($build); RSS every ${sample}s"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:quarantine_size_mb=16:malloc_context_size=8 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/tests/multi_context" --contexts "$contexts" --threads "$threads" --seconds "$seconds" \
    --max-rss-growth-kib -1 "${model_args[@]}" >"$out" 2>&1 &
pid=$!
t0=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$rss" ] && echo "$(( $(date +%s) - t0 )) $rss" >>"$rss_log"
    sleep "$sample"
done
wait "$pid"
rc=$?
cat "$out"
if [ "$rc" -eq 77 ]; then
    echo "soak: skipped (no fixtures)"
    exit 77
fi

# RSS over time: first sample, the last one inside the warm-up, peak and
# last sample after it.
read -r start warm peak_after end < <(awk -v w="$warmup" '
    NR == 1 { start = $2 }
    $1 <= w { warm = $2 }
    $1 > w { if ($2 > peak) peak = $2; end = $2 }
    END { if (warm == "") warm = start; if (peak == "") { peak = warm; end = warm } print start, warm, peak, end }
' "$rss_log")
growth=$(( peak_after - warm ))
samples=$(wc -l <"$rss_log")
echo "soak: RSS start ${start} KiB, after ${warmup}s warm-up ${warm} KiB, peak after warm-up ${peak_after} KiB," \
    "end ${end} KiB ($samples samples): growth after warm-up ${growth} KiB (limit ${max_growth})"
status=0
if [ "$rc" -ne 0 ]; then
    echo "soak: FAILED: multi_context exited with $rc"
    status=1
fi
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out"; then
    echo "soak: FAILED: sanitizer report"
    status=1
fi
if [ "$growth" -gt "$max_growth" ]; then
    echo "soak: FAILED: RSS grew by ${growth} KiB after the warm-up"
    status=1
fi
[ "$status" -eq 0 ] && echo "soak: OK"
exit "$status"
