#!/usr/bin/env bash
# Configures and builds clmtt into build/ (or $CLMTT_BUILD_DIR). Used by demo.sh, test.sh and bench.sh.
# Arguments name targets to build (default: everything, tests included).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CLMTT_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
