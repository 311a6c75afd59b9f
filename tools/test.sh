#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (ctest) on the default OpenCL device.
#   tools/test.sh [ctest args]             the suite on the default device (build/ or $CLMTT_BUILD_DIR)
#   tools/test.sh --sanitize [ctest args]  clmtt and the tests built with AddressSanitizer and
#                                          UndefinedBehaviorSanitizer into build-sanitize/
#                                          (or $CLMTT_SAN_BUILD_DIR), then ctest there
#   tools/test.sh --oclgrind [TEST[:CASE] ...]
#                                          tests run on the Oclgrind simulator (Debian oclgrind)
#                                          with --data-races --uninitialized --check-api; fails
#                                          on any report (tools/oclgrind.md has the figures)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=default
case "${1:-}" in
  --sanitize) mode=sanitize; shift ;;
  --oclgrind) mode=oclgrind; shift ;;
esac
"$root/tools/install-deps.sh"

if [ "$mode" = sanitize ]; then
  build=${CLMTT_SAN_BUILD_DIR:-$root/build-sanitize}
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
  cmake --build "$build" -j"$(nproc)"
  # The tests fork (Check, tu_in_child) and run the clmtt binary: the options reach them all.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tools/lsan.supp:print_suppressions=0}
  cd "$build"
  ctest --output-on-failure "$@"
  exit
fi

if [ "$mode" = oclgrind ]; then
  command -v oclgrind >/dev/null || { echo "test.sh: oclgrind not found (Debian package oclgrind)" >&2; exit 1; }
  build=${CLMTT_BUILD_DIR:-$root/build}
  "$root/tools/build.sh"
  # Default subset: small tests whose every device case fits a few minutes on the simulator.
  tests=("$@")
  [ ${#tests[@]} -gt 0 ] || tests=(test_act test_pool)
  # Oclgrind builds the program itself; a binary cached for another build would skip that,
  # so the runs use their own kernel cache. -cl-opt-disable: Oclgrind's uninitialized-value
  # checker stops on LLVM's `freeze`, which the optimizer emits (tools/oclgrind.md).
  cache=$(mktemp -d)
  logs=$(mktemp -d)
  trap 'rm -rf "$cache"' EXIT
  fails=0
  for spec in "${tests[@]}"; do
    t=${spec%%:*}
    case_=""
    [ "$t" = "$spec" ] || case_=${spec#*:}
    log=$logs/$t${case_:+-$case_}.log
    echo "== $spec on Oclgrind"
    rc=0
    (cd "$build" && env XDG_CACHE_HOME="$cache" ${case_:+CK_RUN_CASE=$case_} CLMTT_BIN="$build/clmtt" CLMTT_SOURCE_DIR="$root" \
       oclgrind --data-races --uninitialized --check-api --build-options -cl-opt-disable \
         --max-errors 100 --log "$log" "./$t") || rc=$?
    n=$(grep -cE '^(Invalid|Uninitialized|Read-write|Write-write|Work-group divergence|Work-item divergence|Oclgrind|OCLGRIND|Controlflow|Instruction depends)' "$log" 2>/dev/null || true)
    echo "   $spec: exit $rc, $n Oclgrind report(s)${n:+ (log: $log)}"
    if [ "$rc" -ne 0 ] || [ "${n:-0}" -ne 0 ] || grep -q . "$log" 2>/dev/null; then
      [ -s "$log" ] && head -40 "$log"
      fails=$((fails + 1))
    fi
  done
  [ "$fails" -eq 0 ] || { echo "test.sh --oclgrind: $fails of ${#tests[@]} failed (logs in $logs)"; exit 1; }
  rm -rf "$logs"
  echo "test.sh --oclgrind: ${#tests[@]} clean"
  exit
fi

"$root/tools/build.sh"
build=${CLMTT_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure "$@"
