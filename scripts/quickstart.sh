#!/usr/bin/env bash
# Quick start: install the build dependencies (Debian/Ubuntu), build libbitnet
# and run the bundled demo model. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/install-deps.sh"
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
./build/tools/bitnet/bitnet inspect --model examples/models/kjv-bitnet-4m-i2_s.gguf
