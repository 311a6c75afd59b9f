#!/usr/bin/env bash
# Compiles the kernel program with clang for the SPIR targets, as another vendor's OpenCL
# compiler would see it, and fails on anything that only PoCL forgives.
#
# The program is cl/common.cl followed by the other cl/*.cl in name order, the order of
# build_main_program() in host/core/runtime.c. For spir and spir64 at OpenCL C 1.2, 2.0 and
# 3.0 (3.0 twice: with every optional feature, and with none, as a minimal 3.0 device) it
#   - fails on any error or warning (-Wall -Wextra; -Wmissing-prototypes: every helper must
#     be static, or another compiler may leave a call to it unresolved; -Wdouble-promotion:
#     a float meeting an unsuffixed constant becomes double);
#   - fails on any call to a function the program does not define (a `declare` in the LLVM
#     IR at -O0 that is neither an LLVM intrinsic nor a mangled OpenCL built-in, or a mangled
#     name whose base name is a function of cl/);
#   - compiles again without fp64 (cl_khr_fp64, __opencl_c_fp64 off): any use of double
#     outside an `#ifdef cl_khr_fp64` / `__opencl_c_fp64` guard is then an error, and the IR
#     must not mention double at all.
# Usage: tests/spir_check.sh [cl-dir]   (CLANG=clang-16 picks the compiler)
# Exits 77 (ctest's skip) when no clang is installed (Debian package clang).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cldir=${1:-$root/cl}
clang=${CLANG:-}
if [ -z "$clang" ]; then
  for c in clang clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null; then clang=$c; break; fi
  done
fi
if [ -z "$clang" ] || ! command -v "$clang" >/dev/null; then
  echo "spir_check: SKIP: no clang (install the Debian package clang; tools/install-deps.sh does it)"
  exit 77
fi
filt=$(command -v c++filt || command -v llvm-cxxfilt || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prog=$tmp/program.cl
files=("$cldir/common.cl")
while IFS= read -r f; do
  [ "$(basename "$f")" = common.cl ] || files+=("$f")
done < <(LC_ALL=C ls "$cldir"/*.cl | LC_ALL=C sort)
# #line directives keep the diagnostics pointing at the file and line of cl/.
for f in "${files[@]}"; do
  printf '#line 1 "cl/%s"\n' "$(basename "$f")"
  cat "$f"
  printf '\n'
done > "$prog"

# The functions the program defines (helpers and kernels), for the mangled-name check.
names=$(cat "${files[@]}" | grep -oE '^[[:space:]]*((static|inline|__kernel|kernel|__attribute__\(\([^)]*\)\))[[:space:]]+)*[A-Za-z_][A-Za-z0-9_]*[[:space:]]+\**[A-Za-z_][A-Za-z0-9_]*\(' \
  | sed -E 's/.*[[:space:]*]([A-Za-z_][A-Za-z0-9_]*)\($/\1/' | sort -u)

warn=(-Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Wdouble-promotion
      # An unused static helper costs nothing on any compiler.
      -Wno-unused-function)
fails=0
fail() { echo "spir_check: FAIL: $*"; fails=$((fails + 1)); }

# check TARGET STD LABEL EXTRA-FLAGS...
check() {
  local target=$1 std=$2 label=$3; shift 3
  local ll=$tmp/$target-$label.ll log=$tmp/$target-$label.log
  if ! "$clang" -x cl -cl-std="$std" -target "$target" -Xclang -finclude-default-header \
       "${warn[@]}" "$@" -O0 -emit-llvm -S -o "$ll" "$prog" > "$log" 2>&1; then
    fail "$target $label: compile error"; cat "$log"; return
  fi
  if grep -q 'warning:' "$log"; then fail "$target $label: warnings"; cat "$log"; fi
  local bad=""
  while IFS= read -r fn; do
    case $fn in
      llvm.*) ;;
      _Z*)
        local base=$fn
        [ -n "$filt" ] && base=$("$filt" "$fn" | sed -E 's/\(.*//')
        if grep -qxF "$base" <<< "$names"; then bad+=" $fn"; fi ;;
      *) bad+=" $fn" ;;
    esac
  done < <(sed -nE 's/^declare [^@]*@("?)([^"(]+)\1\(.*/\2/p' "$ll")
  [ -z "$bad" ] || fail "$target $label: calls to functions the program does not define:$bad"
  echo "spir_check: $target $label: $(grep -c '^define' "$ll") functions, $(grep -c '^declare' "$ll") built-ins"
}

# check_nofp64 TARGET STD LABEL EXTRA-FLAGS...: the program without double support.
check_nofp64() {
  local target=$1 std=$2 label=$3; shift 3
  local ll=$tmp/$target-$label-nofp64.ll log=$tmp/$target-$label-nofp64.log
  if ! "$clang" -x cl -cl-std="$std" -target "$target" -Xclang -finclude-default-header \
       "${warn[@]}" "$@" -O0 -emit-llvm -S -o "$ll" "$prog" > "$log" 2>&1; then
    fail "$target $label without fp64: compile error (double outside an fp64 guard?)"; cat "$log"; return
  fi
  if grep -q 'warning:' "$log"; then fail "$target $label without fp64: warnings"; cat "$log"; fi
  if grep -qw double "$ll"; then
    fail "$target $label without fp64: double in the IR"; grep -nw double "$ll" | head -20
  fi
}

for target in spir spir64; do
  check "$target" CL1.2 CL1.2
  check "$target" CL2.0 CL2.0
  check "$target" CL3.0 CL3.0
  check "$target" CL3.0 CL3.0-minimal -Xclang -cl-ext=-all
  # As built for a device that reports fused multiply-add (the host adds -D CLMTT_FMA).
  check "$target" CL1.2 CL1.2-fma -D CLMTT_FMA
  check_nofp64 "$target" CL1.2 CL1.2 -Xclang -cl-ext=-cl_khr_fp64
  check_nofp64 "$target" CL2.0 CL2.0 -Xclang -cl-ext=-cl_khr_fp64
  check_nofp64 "$target" CL3.0 CL3.0 -Xclang -cl-ext=-cl_khr_fp64,-__opencl_c_fp64
done

if [ "$fails" -ne 0 ]; then
  echo "spir_check: $fails failure(s) ($("$clang" --version | head -1))"
  exit 1
fi
echo "spir_check: OK ($("$clang" --version | head -1))"
