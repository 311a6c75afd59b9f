#!/usr/bin/env bash
# check.sh ARCHIVE OUT_DIR [--quick]: the one-shot check on a GPU machine without package
# access. Unpacks pack.sh's archive into OUT_DIR/pkg, finds the vendor's OpenCL library even
# when no ICD file names it, then, each step with a time limit, into OUT_DIR:
#   devices.txt   clmtt devices
#   tests.log     the packed tests on the default device (GPUs run the gpu kernel family)
#   bench.log     clmtt bench at ipc 1, 10, 50 for Fashion-MNIST and CIFAR-10 shapes
#   torch.log     the same-shape PyTorch CUDA step with TF32 on and off, when torch is there
#   summary.txt   what passed and the timings
# --quick (for a rehearsal on a CPU): ipc 1 only, one test. Every step has a time limit and the
# whole check stops starting steps after CHECK_SECONDS (default 450), so it ends within 8 minutes.
# CHECK_STEP_SCALE=N (default 1) multiplies every step's limit: a rehearsal on PoCL, whose first
# launches compile the kernels for minutes, takes CHECK_STEP_SCALE=4 CHECK_SECONDS=1500.
set -uo pipefail
archive=$1 out=$2 quick=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/pkg" && mkdir -p "$out/pkg"
tar -C "$out/pkg" -xzf "$archive" || { echo "check: cannot unpack $archive" >&2; exit 1; }
pkg=$out/pkg/clmtt-gpu
export LD_LIBRARY_PATH=$pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XDG_CACHE_HOME=$out/cache
# The ICD loader reads /etc/OpenCL/vendors; where nothing there names the driver's library,
# write our own vendors folder naming every vendor library found on the machine.
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 || ! "$pkg/bin/clmtt" devices >/dev/null 2>&1; then
  mkdir -p "$out/icd"
  for name in libnvidia-opencl.so.1 libamdocl64.so libigdrcl.so libpocl.so.2; do
    f=$(find / -xdev \( -name "$name" -o -name "$name.*" \) 2>/dev/null | head -1)
    [ -n "$f" ] && echo "$f" > "$out/icd/${name%%.so*}.icd"
  done
  export OCL_ICD_VENDORS=$out/icd
fi
{
  echo "clmtt $(cat "$pkg/VERSION"), $(date -u +%FT%TZ), $(uname -n)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
} > "$out/summary.txt"
# Every step runs under limit CAP: CAP seconds or what is left of the whole check's 7.5 minutes,
# whichever is less; a step with under 5 s left is recorded as skipped, so the check ends in time.
end=$((SECONDS + ${CHECK_SECONDS:-450}))
limit() { local cap=$1 left=$((end - SECONDS)); [ "$left" -lt 5 ] && return 1; echo $((cap < left ? cap : left)); }
step() {   # step NAME CAP CMD...: runs CMD under the limit, appends "NAME: exit N (S s)" to the summary
  local name=$1 cap=$(($2 * ${CHECK_STEP_SCALE:-1})) t0=$SECONDS lim; shift 2
  if ! lim=$(limit "$cap"); then echo "$name: skipped (out of time)" >> "$out/summary.txt"; return; fi
  timeout "$lim" "$@"
  echo "$name: exit $? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
}
timeout 60 "$pkg/bin/clmtt" devices > "$out/devices.txt" 2>&1
echo "devices: exit $?" >> "$out/summary.txt"

# Every test pack.sh packed (the ones that make their own data).
tests=()
for b in "$pkg"/bin/test_*; do tests+=("$(basename "$b")"); done
[ "$quick" = --quick ] && tests=(test_seam)
: > "$out/tests.log"
for t in "${tests[@]}"; do
  (cd "$out" && step "$t" 120 "$pkg/bin/$t") >> "$out/tests.log" 2>&1
done

ipcs=(1 10 50)
[ "$quick" = --quick ] && ipcs=(1)
: > "$out/bench.log"
for ds in FashionMNIST CIFAR10; do
  for ipc in "${ipcs[@]}"; do
    step "bench $ds ipc $ipc" 90 "$pkg/bin/clmtt" bench --dataset "$ds" --ipc "$ipc" --iterations 2 --train_batches 3 \
      >> "$out/bench.log" 2>&1
  done
done
# The same iteration in plain PyTorch (tools/bench/torch_peer.py) for the Fashion-MNIST and
# CIFAR-10 shapes at each ipc, TF32 on and off; its JSON lines go to torch.log.
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  : > "$out/torch.log"
  for tf32 in on off; do
    for ds in FashionMNIST CIFAR10; do
      for ipc in "${ipcs[@]}"; do
        step "torch peer $ds ipc $ipc tf32 $tf32" 60 python3 "$pkg/torch_peer.py" --dataset="$ds" --ipc="$ipc" \
          --syn_steps=20 --iterations=2 --device=cuda --tf32=$tf32 --threads="$(nproc)" >> "$out/torch.log" 2>&1
      done
    done
  done
else
  echo "torch peer: skipped (no PyTorch with CUDA here)" >> "$out/summary.txt"
fi
cat "$out/summary.txt"
