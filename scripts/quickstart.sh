#!/usr/bin/env bash
# Quick start: install the build dependencies (Debian/Ubuntu), build libbitnet
# and generate text with the bundled demo model. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/install-deps.sh"
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
./build/tools/bitnet/bitnet run --model examples/models/kjv-bitnet-4m-i2_s.gguf \
    --prompt "In the beginning God created" --max-new-tokens 48 --temp 0.7 --seed 1 --repeat-penalty 1.1
