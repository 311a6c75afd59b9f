#!/usr/bin/env bash
# pack.sh [ARCHIVE]: builds clmtt here (with Debian's packages) and packs what a GPU machine
# without package access needs into one archive (default tools/gpu/clmtt-gpu.tar.gz, kept
# out of git): the clmtt binary, the test binaries that need no dataset, stripped, every
# shared library they load except the C library's own, tools/gpu/check.sh to run there, and
# the PyTorch peer (tools/bench/torch_peer.py) for a machine with CUDA PyTorch.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
archive=${1:-$root/tools/gpu/clmtt-gpu.tar.gz}
build=${CLMTT_BUILD_DIR:-$root/build}
"$root/tools/install-deps.sh"
"$root/tools/build.sh"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/clmtt-gpu/bin" "$stage/clmtt-gpu/lib"
# Tests that make their own data (no dataset files, no Python).
tests=(test_runtime test_gemm test_act test_conv2d test_linear test_loss test_norm test_pool test_model test_dsa
       test_texture test_dct test_seam test_train test_distill)
for b in clmtt "${tests[@]}"; do
  strip -o "$stage/clmtt-gpu/bin/$b" "$build/$b"
done
# Every library the binaries load, but the C library's own (the machine there has those).
for b in "$stage"/clmtt-gpu/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
    *) cp -L "$lib" "$stage/clmtt-gpu/lib/" ;;
  esac
done
cp "$root/tools/gpu/check.sh" "$root/tools/bench/torch_peer.py" "$stage/clmtt-gpu/"
echo "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$stage/clmtt-gpu/VERSION"
tar -C "$stage" -czf "$archive.tmp" clmtt-gpu
mv "$archive.tmp" "$archive"
echo "pack: $archive ($(du -h "$archive" | cut -f1)); carry it, then run: tools/gpu/check.sh $archive OUT_DIR"
