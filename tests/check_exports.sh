#!/bin/sh
# Fails if the shared library exports any symbol that is not bitnet_*.
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^bitnet_' || true)
if [ -n "$bad" ]; then
    echo "symbols exported without the bitnet_ prefix:"; printf '%s\n' "$bad"; exit 1
fi
echo "$(printf '%s\n' "$syms" | wc -l) exported symbols, all bitnet_*"
