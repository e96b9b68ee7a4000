#!/usr/bin/env bash
# build.sh [BUILD_DIR] [cmake options...] — configures and builds crate
# (Release) into BUILD_DIR (default: build). The build is portable (x86-64
# baseline, AVX2/AVX-512 picked at run time); -DCRATE_NATIVE=ON compiles for
# this machine's CPU (-march=native). Install with
#   cmake --install BUILD_DIR --prefix PREFIX
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
