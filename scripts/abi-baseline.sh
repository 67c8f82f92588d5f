#!/usr/bin/env bash
# Writes abi/bitnet.abi.xml, the ABI baseline the `abi_baseline` test compares the
# built library with (libabigail's abidw; Debian package abigail-tools).
#
#   scripts/abi-baseline.sh [COMMIT]     (default: the commit named in abi/BASELINE)
#
# The commit's tree is exported with `git archive` into a temporary folder
# and built there (library only, debug info on), so the working tree is not
# touched. Run it at each release with the release's commit, and commit the
# new XML together with abi/BASELINE.
#
# The first baseline is 516e79a, the state before issue 5 (state files, YAML
# config, budgets), i.e. what 0.1.0 shipped: it builds in well under a minute
# with the packages of scripts/install-deps.sh, so it was taken instead of
# the current state. Against it, the current library only adds functions,
# enum values and fields at the end of size-prefixed structs, which the
# check accepts.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:-$(sed -n 's/^commit *//p' abi/BASELINE)}
full=$(git rev-parse --verify "$commit^{commit}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
git archive "$full" | tar -x -C "$tmp/src"
meson setup "$tmp/build" "$tmp/src" -Dbuildtype=debugoptimized -Dtests=false -Dexamples=false \
    -Dwrap_mode=nodownload >/dev/null
ninja -C "$tmp/build" >/dev/null
lib=$(find "$tmp/build/lib" -name 'libbitnet.so.*.*' -type f | head -n 1)
# Only the types of the public headers; no paths of this machine.
abidw --headers-dir "$tmp/src/include/bitnet" --drop-private-types --no-corpus-path --no-comp-dir-path \
    --no-elf-needed --short-locs "$lib" > abi/bitnet.abi.xml
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$tmp/src/meson.build" | head -n 1)
{
    echo "# abi/bitnet.abi.xml was written by scripts/abi-baseline.sh from this commit,"
    echo "# the last release (the script says why the first baseline is 516e79a)."
    printf 'commit %s\nversion %s\n' "$full" "$version"
} > abi/BASELINE
echo "abi/bitnet.abi.xml: libbitnet $version at ${full:0:7} ($(grep -c '<function-decl' abi/bitnet.abi.xml) function declarations)"
