#!/bin/sh
# Checks the dynamic symbols the shared library exports:
#   check_exports.sh LIB                    only bitnet_* symbols leave the library
#   check_exports.sh LIB LIST               ... and they are exactly those of LIST
#   check_exports.sh LIB LIST --update      rewrite LIST from LIB (a deliberate change)
# LIST (abi/bitnet.symbols) holds one symbol a line; '#' lines are comments.
lib="$1"
list="${2:-}"
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | LC_ALL=C sort -u)
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^bitnet_' || true)
if [ -n "$bad" ]; then
    echo "symbols exported without the bitnet_ prefix:"; printf '%s\n' "$bad"; exit 1
fi
echo "$(printf '%s\n' "$syms" | wc -l) exported symbols, all bitnet_*"
[ -n "$list" ] || exit 0
if [ "${3:-}" = "--update" ]; then
    { sed -n '/^#/p' "$list" 2>/dev/null; printf '%s\n' "$syms"; } > "$list.tmp" && mv "$list.tmp" "$list"
    echo "wrote $list"; exit 0
fi
expected=$(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | LC_ALL=C sort -u)
if [ "$syms" != "$expected" ]; then
    echo "the exported symbols differ from $list:"
    printf '%s\n' "$expected" > "${TMPDIR:-/tmp}/bitnet-syms-expected.$$"
    printf '%s\n' "$syms" | diff -u --label "$list (committed)" --label "$lib (built)" \
        "${TMPDIR:-/tmp}/bitnet-syms-expected.$$" - | tail -n +3
    rm -f "${TMPDIR:-/tmp}/bitnet-syms-expected.$$"
    echo "A removed or renamed symbol of bitnet.h breaks the ABI (README \"ABI policy\"). If the change"
    echo "is intended, update the list on purpose and commit it with the change:"
    echo "    (cd $(pwd) && $0 $lib $list --update)"
    exit 1
fi
echo "they match $list"
