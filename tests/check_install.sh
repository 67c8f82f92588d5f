#!/usr/bin/env bash
# Installs a build into a temporary root and builds a consumer out of tree with
# `pkg-config --cflags --libs bitnet`, against the installed shared library;
# then examples/simple.c (cc) and examples/simple.cpp (c++) the same way,
# whose greedy tokens and text on MODEL must equal `bitnet run --temp 0`'s
# (examples/check_simple.sh, with the build's CLI).
set -euo pipefail
build=${1:?build dir}
model=${2:?model file}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
    "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name']=='prefix'))")
pcdir=$(dirname "$(find "$tmp/root" -name bitnet.pc | head -n 1)")
root="$tmp/root$prefix"
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$root" --cflags --libs bitnet)
cat > "$tmp/consumer.c" <<'C'
#include <bitnet/bitnet.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    bitnet_model *m;
    if (bitnet_version() != BITNET_VERSION_NUMBER) return 3;
    if (bitnet_model_load_file(argv[1], NULL, &m) != BITNET_OK) {
        fprintf(stderr, "%s\n", bitnet_last_error());
        return 1;
    }
    printf("libbitnet %s: %lld tensors\n", bitnet_version_string(), (long long)bitnet_model_tensor_count(m));
    bitnet_model_release(m);
    return argc > 1 ? 0 : 2;
}
C
cc -std=c11 -Wall -Werror "$tmp/consumer.c" -o "$tmp/consumer" $flags
libdir=$(dirname "$(find "$tmp/root" -name 'libbitnet.so.0' | head -n 1)")
readelf -d "$libdir/libbitnet.so.0" | grep -q 'SONAME.*libbitnet.so.0' || { echo "bad SONAME"; exit 1; }
test -f "$libdir/libbitnet.a" || { echo "static library not installed"; exit 1; }
test -x "$root/bin/bitnet" || { echo "bitnet CLI not installed"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$tmp/consumer" "$model"

src=$(cd "$(dirname "$0")/.." && pwd)
cli=$(cd "$build" && pwd)/tools/bitnet/bitnet
model_abs=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
mkdir "$tmp/app"
cp "$src/examples/simple.c" "$src/examples/simple.cpp" "$tmp/app/"
cd "$tmp/app"
cc -std=c11 -Wall -Wextra -Werror simple.c -o simple $flags -Wl,-rpath,"$libdir"
built=(simple)
if command -v c++ >/dev/null; then
    c++ -std=c++17 -Wall -Wextra -Werror simple.cpp -o simple_cpp $flags -Wl,-rpath,"$libdir"
    built+=(simple_cpp)
else
    echo "no C++ compiler: simple.cpp not checked"
fi
for exe in "${built[@]}"; do
    deps=$(ldd "./$exe")
    grep -q "$libdir/libbitnet.so.0" <<<"$deps" || { echo "$exe does not use the installed library"; exit 1; }
    out=$("$src/examples/check_simple.sh" "$tmp/app/$exe" "$cli" "$model_abs") || { echo "$out"; exit 1; }
    tail -n 1 <<<"$out"
done
