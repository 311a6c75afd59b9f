#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (ctest) on the default OpenCL device.
#   tools/test.sh [ctest args]             the suite on the default device (build/ or $CLMTT_BUILD_DIR),
#                                          then (what CI runs, .ci/run) a few tests on Oclgrind where
#                                          it is installed, the fuzz smoke where clang-16 and libFuzzer
#                                          are installed, and the sanitizer part (SANITIZE_CI below)
#   tools/test.sh --sanitize [ctest args]  clmtt and the tests built with AddressSanitizer and
#                                          UndefinedBehaviorSanitizer into build-sanitize/
#                                          (or $CLMTT_SAN_BUILD_DIR), then ctest there
#   tools/test.sh --oclgrind [TEST[:CASE][@cpu|@gpu] ...]
#                                          tests run on the Oclgrind simulator (Debian oclgrind)
#                                          with --data-races --uninitialized --check-api, small
#                                          shapes, the given kernel family; fails on any report.
#                                          No TEST: every layer, model, DSA, texture and
#                                          distillation test (tools/oclgrind.md has the figures)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=default
case "${1:-}" in
  --sanitize) mode=sanitize; shift ;;
  --oclgrind) mode=oclgrind; shift ;;
esac
"$root/tools/install-deps.sh"

# Builds clmtt and the tests with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-sanitize/ (or $CLMTT_SAN_BUILD_DIR) and runs ctest there with the given arguments.
run_sanitize() (
  build=${CLMTT_SAN_BUILD_DIR:-$root/build-sanitize}
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
  cmake --build "$build" -j"$(nproc)"
  # The tests fork (Check, tu_in_child) and run the clmtt binary: the options reach them all.
  # new_delete_type_mismatch=0: clmtt is C and never calls new or delete; the check fires
  # inside clFFT (FFTRepo::deletePlan deletes a plan through a base of another size).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:new_delete_type_mismatch=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tools/lsan.supp:print_suppressions=0}
  cd "$build"
  ctest --output-on-failure "$@"
)

if [ "$mode" = sanitize ]; then
  run_sanitize "$@"
  exit
fi

# Runs tests on Oclgrind, one at a time; each spec is TEST[:CASE][@FAMILY] (FAMILY cpu or
# gpu: CLMTT_KERNEL_FAMILY). Fails on any report. CLMTT_OCLGRIND=1 steers the runtime around
# the simulator's shadow-memory defects, CLMTT_TEST_SMALL=1 gives the tests small shapes
# (tools/oclgrind.md).
run_oclgrind() {
  command -v oclgrind >/dev/null || { echo "test.sh: oclgrind not found (Debian package oclgrind)" >&2; return 1; }
  local build=${CLMTT_BUILD_DIR:-$root/build}
  # Oclgrind builds the program itself; a binary cached for another build would skip that,
  # so the runs use their own kernel cache. -cl-opt-disable: Oclgrind's uninitialized-value
  # checker stops on LLVM's `freeze`, which the optimizer emits (tools/oclgrind.md).
  local cache logs
  cache=$(mktemp -d)
  logs=$(mktemp -d)
  local fails=0 spec t case_ fam log rc n start
  for spec in "$@"; do
    fam=""
    case $spec in *@*) fam=${spec##*@}; spec=${spec%@*} ;; esac
    case $fam in ""|cpu|gpu) ;; *) echo "test.sh: family '$fam' in '$spec@$fam' is not cpu or gpu" >&2; return 1 ;; esac
    t=${spec%%:*}
    case_=""
    [ "$t" = "$spec" ] || case_=${spec#*:}
    [ -x "$build/$t" ] || { echo "test.sh: no test '$t' in $build" >&2; return 1; }
    log=$logs/$t${case_:+-$case_}${fam:+-$fam}.log
    echo "== $spec${fam:+ ($fam family)} on Oclgrind"
    rc=0
    start=$SECONDS
    # The simulator runs kernels hundreds of times slower: Check's per-test limit (900 s) x 20.
    (cd "$build" && env XDG_CACHE_HOME="$cache" ${case_:+CK_RUN_CASE=$case_} ${fam:+CLMTT_KERNEL_FAMILY=$fam} \
       CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-20} \
       CK_LOG_FILE_NAME=- CLMTT_OCLGRIND=1 CLMTT_TEST_SMALL=1 CLMTT_BIN="$build/clmtt" CLMTT_SOURCE_DIR="$root" \
       oclgrind --data-races --uninitialized --check-api --build-options -cl-opt-disable \
         --max-errors 100 --log "$log" "./$t") || rc=$?
    n=$(grep -cE '^(Invalid|Uninitialized|Read-write|Write-write|Work-group divergence|Work-item divergence|Oclgrind|OCLGRIND|Controlflow|Instruction depends)' "$log" 2>/dev/null || true)
    echo "   $spec${fam:+@$fam}: exit $rc, ${n:-0} Oclgrind report(s), $((SECONDS - start)) s"
    if [ "$rc" -ne 0 ] || [ "${n:-0}" -ne 0 ] || grep -q . "$log" 2>/dev/null; then
      [ -s "$log" ] && head -40 "$log"
      echo "   (log: $log)"
      fails=$((fails + 1))
    fi
  done
  rm -rf "$cache"
  [ "$fails" -eq 0 ] || { echo "test.sh --oclgrind: $fails of $# failed (logs in $logs)"; return 1; }
  rm -rf "$logs"
  echo "test.sh --oclgrind: $# clean"
}

# Every layer, model, augmentation, texture and distillation test (the device cases where a
# test has host-only ones apart); those whose kernels depend on the family (convolution,
# normalization, pooling and what runs them) in both.
OCLGRIND_ALL=(test_act test_loss test_dsa:device test_gemm:matmul test_gemm:plain test_linear test_freq test_dct
  test_pool test_pool@gpu test_conv2d test_conv2d@gpu test_norm test_norm@gpu
  test_model:device test_model:device@gpu test_block test_block@gpu test_texture test_texture@gpu test_distill
  test_distill@gpu test_iteration)
# The part the default run (CI) ends with: a few minutes on two cores.
OCLGRIND_CI=(test_act test_pool@gpu test_loss test_dsa:device)
# The tests the default run (CI) repeats under ASan + UBSan: the readers of outside bytes, the
# flag and config parsers, the runtime and the fast layer tests. Measured on the shared 2-core
# machine (ctest -j2, other work running): sanitizer build about 150 s, these tests about 6 min
# (test_config 103 s, test_cli 95 s, test_runtime 36 s, test_images 32 s, test_data 18 s, test_report
# 18 s, the rest under 10 s each), the fuzz smoke above 74 s with its build; the default run was
# about 11 min, so CI stays near 20 min. Left to tools/test.sh --sanitize (minutes each under the
# sanitizers): test_crash, test_correct_init, test_distill, test_match, test_max_alloc, test_model,
# test_mpi, test_seed_commands, test_texture, test_train, test_zca_cli and the scripts.
SANITIZE_CI=(test_00_warmup test_act test_cli test_config test_conv2d test_data test_dct test_dsa test_freq test_gemm
  test_images test_info test_linear test_loss test_norm test_png test_pool test_report test_runtime test_safetensors
  test_seam test_zca)

if [ "$mode" = oclgrind ]; then
  "$root/tools/build.sh"
  if [ $# -eq 0 ]; then set -- "${OCLGRIND_ALL[@]}"; fi
  run_oclgrind "$@"
  exit
fi

"$root/tools/build.sh"
build=${CLMTT_BUILD_DIR:-$root/build}
# Two tests at a time: much of the suite is single-threaded host work (float64 references,
# finite differences, kernel compilation), so the second core would otherwise idle.
(cd "$build" && ctest --output-on-failure -j "${CTEST_PARALLEL_LEVEL:-2}" "$@")
# Then a small part on Oclgrind, where it is installed (tools/install-deps.sh installs it).
if command -v oclgrind >/dev/null; then
  run_oclgrind "${OCLGRIND_CI[@]}"
else
  echo "test.sh: oclgrind not installed, the Oclgrind runs are skipped"
fi
# The fuzz smoke: every libFuzzer harness for 10^4 executions from its seeds (tests/fuzz),
# where Debian's clang-16 and its fuzzer runtime (libclang-rt-16-dev) are installed.
if command -v clang-16 >/dev/null && [ -f /usr/lib/llvm-16/lib/clang/16/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  start=$SECONDS
  "$root/tools/fuzz.sh" --smoke
  echo "test.sh: fuzz smoke done in $((SECONDS - start)) s"
else
  echo "test.sh: clang-16 or libFuzzer (libclang-rt-16-dev) not installed, the fuzz smoke is skipped"
fi
# The sanitizer part: the ASan + UBSan build and the tests of SANITIZE_CI (the whole suite
# under sanitizers, tools/test.sh --sanitize, takes too long for CI on two cores).
start=$SECONDS
run_sanitize -R "^($(IFS='|'; echo "${SANITIZE_CI[*]}"))\$"
echo "test.sh: sanitizer part done in $((SECONDS - start)) s"
