#!/usr/bin/env bash
# The ABI check of the stable header (README "ABI policy"):
#  1. every struct defined in bitnet.h begins with `size_t struct_size`
#     (the others are opaque: declared, never defined);
#  2. the built library against abi/bitnet.abi.xml (the last release, see
#     abi/BASELINE and scripts/abi-baseline.sh), both as abidw corpora:
#     struct layouts with tests/abi_layout.py, functions and enums with
#     libabigail's abidiff (suppressions: abi/bitnet.abignore). Added
#     functions, enumerators and fields appended to size-prefixed structs
#     pass; any other change (a removed function, a changed parameter or
#     return type, reordered or retyped fields, a renumbered enumerator, a
#     grown params struct) fails.
# Step 2 is skipped (exit 77) without abidiff (Debian: abigail-tools), on a
# build without debug info, and on machines other than x86_64 (the baseline's).
#   check_abi.sh LIB SOURCE_ROOT
set -uo pipefail
lib=${1:?library} root=${2:?source root}
header=$root/include/bitnet/bitnet.h

bad=$(awk '
    /^typedef struct [a-z_0-9]+ \{/ { name = $3; first = 1; next }
    first && NF { if ($0 !~ /^ *size_t struct_size;/) print name; first = 0 }
' "$header")
if [ -n "$bad" ]; then
    echo "bitnet.h: public structs must be opaque or begin with size_t struct_size: $bad"
    exit 1
fi
echo "bitnet.h: every defined struct begins with struct_size"

skip() { echo "ABI check skipped: $*"; exit 77; }
command -v abidw >/dev/null && command -v abidiff >/dev/null && command -v python3 >/dev/null \
    || skip "abidw/abidiff (Debian package abigail-tools) or python3 not found; scripts/install-deps.sh installs them"
[ "$(uname -m)" = x86_64 ] || skip "the baseline abi/bitnet.abi.xml is for x86_64, this is $(uname -m)"
sections=$(readelf -S "$lib" 2>/dev/null)
grep -q '\.debug_info' <<<"$sections" \
    || skip "$lib has no debug info (configure with -Ddebug=true, e.g. -Dbuildtype=debugoptimized)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The same abidw flags as scripts/abi-baseline.sh.
abidw --headers-dir "$root/include/bitnet" --drop-private-types --no-corpus-path --no-comp-dir-path \
    --no-elf-needed --short-locs "$lib" > "$tmp/current.xml" || { echo "abidw failed on $lib"; exit 1; }
base=$root/abi/bitnet.abi.xml
from=$(sed -n 's/^version *//p' "$root/abi/BASELINE")

# compare BASE CURRENT: 0 when CURRENT is compatible with BASE; the reports
# go to $tmp/layout and $tmp/report.
compare() {
    # Struct layouts (abidiff cannot tell an appended field from a moved one).
    python3 "$root/tests/abi_layout.py" "$1" "$2" > "$tmp/layout"
    local layout=$?
    # Functions and enums; --no-added-syms: new functions are compatible.
    abidiff --no-added-syms --no-default-suppression --suppressions "$root/abi/bitnet.abignore" \
        "$1" "$2" > "$tmp/report"
    rc=$?
    [ $layout -eq 0 ] && [ $rc -eq 0 ]
}

if ! compare "$base" "$tmp/current.xml"; then
    cat "$tmp/layout"
    [ $rc -eq 0 ] || cat "$tmp/report"
    [ $((rc & 1)) -eq 0 ] || { echo "abidiff failed (exit $rc)"; exit 1; }
    echo
    echo "INCOMPATIBLE ABI change against libbitnet $from (abi/bitnet.abi.xml)."
    echo "Keep bitnet.h compatible (add functions, append fields to out-structs, add enumerators),"
    echo "or make the break on purpose: bump abi_major in meson.build (the SONAME) and the major"
    echo "version, and regenerate the baseline at that release (scripts/abi-baseline.sh COMMIT)."
    exit 1
fi
cat "$tmp/layout"
abidiff --no-default-suppression --suppressions "$root/abi/bitnet.abignore" "$base" "$tmp/current.xml" |
    grep 'changes summary' | sed 's/^/  /'
echo "ABI compatible with libbitnet $from (abi/bitnet.abi.xml): additions only"

# Self-test: the same comparison must reject deliberate breaks of this
# library's ABI (tests/abi_mutate.py), or the check has gone blind.
for kind in swap grow enum param remove; do
    python3 "$root/tests/abi_mutate.py" "$kind" "$tmp/current.xml" "$tmp/broken.xml" || exit 1
    if compare "$base" "$tmp/broken.xml"; then
        echo "self-test: the check accepted a deliberate break ($kind); see tests/abi_mutate.py"
        exit 1
    fi
done
echo "self-test: 5 deliberate breaks rejected (swapped fields, grown params struct, renumbered"
echo "  enumerator, changed parameter type, removed function)"
