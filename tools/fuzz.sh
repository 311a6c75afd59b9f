#!/usr/bin/env bash
# libFuzzer harnesses of the readers of outside bytes (tests/fuzz/README.md).
#   tools/fuzz.sh NAME [seconds]   builds fuzz_NAME into build-fuzz/ (or $CLMTT_FUZZ_BUILD_DIR) with clang-16
#                                  (or $CLMTT_FUZZ_CC) and fuzzes it for seconds (default 60) from the seeds in
#                                  tests/fuzz/corpus/NAME; new inputs go to build-fuzz/corpus/NAME, crashes to
#                                  build-fuzz/artifacts/. Extra libFuzzer flags: $CLMTT_FUZZ_ARGS.
#   tools/fuzz.sh --smoke          builds every harness and runs each for about 10^4 executions (ctest -L fuzz)
#   tools/fuzz.sh --list           the harness names
# The harnesses need Debian's clang-16, libfuzzer-16-dev and libclang-rt-16-dev (tools/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CLMTT_FUZZ_BUILD_DIR:-$root/build-fuzz}
# Reports with function names and lines (llvm-symbolizer, from Debian's llvm-14 or llvm-16).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in /usr/lib/llvm-16/bin/llvm-symbolizer /usr/lib/llvm-14/bin/llvm-symbolizer; do
    [ -x "$s" ] && { export ASAN_SYMBOLIZER_PATH=$s; break; }
  done
fi

# libFuzzer flags for one harness: its dictionary, a larger input where one record needs it.
fuzz_flags() {
  local name=$1
  local -a f=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "$root/tests/fuzz/$name.dict" ] && f+=("-dict=$root/tests/fuzz/$name.dict")
  case "$name" in
    cifar) f+=(-max_len=8192) ;;      # two CIFAR records (3073 or 3074 bytes each)
    image) f+=(-max_len=16384) ;;
    config) f+=(-close_fd_mask=3) ;;  # the parse prints "Config: ..." and the ignored keys
    cache) f+=(-close_fd_mask=1) ;;   # each refusal prints why the cache is rebuilt
  esac
  printf '%s\n' "${f[@]}"
}

# --run-only BIN NAME RUNS: RUNS executions from the seeds, nothing written to the tree (the ctest).
if [ "${1:-}" = --run-only ]; then
  bin=$2 name=$3 runs=$4
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  mapfile -t flags < <(fuzz_flags "$name")
  exec "$bin" "${flags[@]}" -runs="$runs" -artifact_prefix="$scratch/" "$scratch" "$root/tests/fuzz/corpus/$name"
fi

names() { for f in "$root"/tests/fuzz/*.c; do basename "$f" .c; done; }
if [ "${1:-}" = --list ]; then names; exit 0; fi

cc=${CLMTT_FUZZ_CC:-clang-16}
command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (Debian packages clang-16 libfuzzer-16-dev libclang-rt-16-dev; tools/install-deps.sh)" >&2; exit 1; }
configure() {
  CC=$cc cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMTT_FUZZ=ON >/dev/null
}

if [ "${1:-}" = --smoke ]; then
  configure
  targets=()
  for n in $(names); do targets+=(--target "fuzz_$n"); done
  cmake --build "$build" -j"$(nproc)" "${targets[@]}"
  cd "$build"
  exec ctest -L fuzz --output-on-failure
fi

name=${1:?usage: tools/fuzz.sh NAME [seconds] | --smoke | --list}
secs=${2:-60}
[ -f "$root/tests/fuzz/$name.c" ] || { echo "fuzz.sh: no harness tests/fuzz/$name.c (have: $(names | tr '\n' ' '))" >&2; exit 1; }
configure
cmake --build "$build" -j"$(nproc)" --target "fuzz_$name"
mkdir -p "$build/corpus/$name" "$build/artifacts"
mapfile -t flags < <(fuzz_flags "$name")
# shellcheck disable=SC2086
exec "$build/fuzz_$name" "${flags[@]}" -max_total_time="$secs" -artifact_prefix="$build/artifacts/$name-" \
  ${CLMTT_FUZZ_ARGS:-} "$build/corpus/$name" "$root/tests/fuzz/corpus/$name"
