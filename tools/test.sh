#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (ctest) on the default OpenCL device.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
"$root/tools/build.sh"
build=${CLMTT_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure "$@"
