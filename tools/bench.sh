#!/usr/bin/env bash
# Speed and peak device memory of clmtt on random data (no dataset files needed):
#   - expert training images/s: ConvNet on Fashion-MNIST and CIFAR-10 shapes, ConvNetW32 on Fashion-MNIST;
#   - one distillation iteration (ConvNet, DSA, syn_steps 20): seconds and peak device memory
#     for Fashion-MNIST ipc 1 and 10 and CIFAR-10 ipc 1 and 10;
#   - peak memory at syn_steps 20 vs 80 (CIFAR-10 ipc 10): growth per extra step against one
#     parameter vector (clmtt keeps one parameter vector per step, not the activations).
#   - scaling over MPI ranks (when Open MPI's mpirun is installed): one distillation iteration
#     by 1 rank x all cores' threads against 2 ranks x half the threads each (mpirun -np 2), per
#     rank compute and communication time, peak device memory per rank, and the model of the
#     bytes communicated per step and per iteration for N ranks (docs/scaling.md).
# Ends with a summary table, then a same-run PyTorch peer (tools/bench/torch_peer.py) when torch is installed.
# Installs nothing; builds with tools/build.sh. Runs on the default OpenCL device.
#
# Environment:
#   BENCH_QUICK=1        fewer steps and only the small configurations (minutes on a 2-core CPU)
#   CLMTT_DEVICE=N       the OpenCL device (see 'clmtt devices')
#   BENCH_DIR            where bench.log and bench.jsonl go (default runs/bench)
#   BENCH_SCALING=0      leave out the scaling runs (default: on where mpirun is found)
#   BENCH_SETS="DS:IPC ..." the distillation configurations (default FashionMNIST:1 FashionMNIST:10
#                        CIFAR10:1 CIFAR10:10; quick: FashionMNIST:1)
#   BENCH_TRAIN=0        leave out the expert-training rows
#   BENCH_MEMORY=0       leave out the memory-against-unroll-length rows
#   CLMTT_BUILD_DIR      build folder (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/build.sh" clmtt
clmtt=${CLMTT_BUILD_DIR:-$root/build}/clmtt
out=${BENCH_DIR:-$root/runs/bench}
quick=${BENCH_QUICK:-0}
mkdir -p "$out"
log="$out/bench.log"
jsonl="$out/bench.jsonl"
: > "$log"
: > "$jsonl"

# What starts clmtt: nothing (one process), or mpirun for the scaling runs.
launch=()
# The measurements, by label: the BENCH_JSON record of each run.
declare -A rec
labels=()

# bench LABEL ARGS...: runs clmtt bench, shows and logs its output, keeps its record.
bench() {
  local label=$1; shift
  local tmp="$out/.run.txt"
  echo "== [$label] ${launch[*]} clmtt bench $*" | tee -a "$log"
  local status
  set +e
  "${launch[@]}" "$clmtt" bench --seed=1 "$@" 2>&1 | tee "$tmp" | grep -v '^BENCH_JSON '
  status=${PIPESTATUS[0]}
  set -e
  cat "$tmp" >> "$log"
  [ "$status" = 0 ] || { echo "bench.sh: clmtt bench $* failed (status $status; see $log)" >&2; exit 1; }
  local line
  line=$(sed -n 's/^BENCH_JSON //p' "$tmp" | tail -n 1)
  [ -n "$line" ] || { echo "bench.sh: clmtt bench $* gave no result (see $log)" >&2; exit 1; }
  echo "$line" >> "$jsonl"
  rec[$label]=$line
  labels+=("$label")
  rm -f "$tmp"
}

# field LABEL KEY: one value of a record (numbers, booleans, or strings without quotes).
field() {
  sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"${rec[$1]}" | tr -d '"'
}
has() { [ -n "${rec[$1]+x}" ]; }
# fmt PRINTF-FORMAT VALUE: awk's printf (bash's printf depends on the locale).
fmt() { awk -v f="$1" -v x="$2" 'BEGIN { printf f, x }'; }

if [ "$quick" = 1 ]; then
  train_batches=2; iterations=1; mem_model=ConvNetW32; mem_ds=FashionMNIST; mem_ipc=1; mem_lo=10; mem_hi=40
else
  train_batches=5; iterations=2; mem_model=ConvNet; mem_ds=CIFAR10; mem_ipc=10; mem_lo=20; mem_hi=80
fi
echo "clmtt benchmark ($([ "$quick" = 1 ] && echo "quick: BENCH_QUICK=1" || echo full)), CLMTT_DEVICE=${CLMTT_DEVICE:-default}; log: $log"
"$clmtt" devices | tee -a "$log"
t0=$(date +%s)

# Expert training: batch 256 with DSA, as clmtt buffer trains.
if [ "${BENCH_TRAIN:-1}" != 0 ]; then
bench train-FashionMNIST-ConvNetW32 --what=train --dataset=FashionMNIST --model=ConvNetW32 --train_batches=$train_batches
bench train-FashionMNIST-ConvNet --what=train --dataset=FashionMNIST --model=ConvNet --train_batches=$train_batches
[ "$quick" = 1 ] || bench train-CIFAR10-ConvNet --what=train --dataset=CIFAR10 --model=ConvNet --train_batches=$train_batches
fi

# Distillation iterations: ConvNet, DSA, syn_steps 20, batch_syn = the whole set.
distill_sets="FashionMNIST:1"
[ "$quick" = 1 ] || distill_sets="FashionMNIST:1 FashionMNIST:10 CIFAR10:1 CIFAR10:10"
distill_sets=${BENCH_SETS:-$distill_sets}
for s in $distill_sets; do
  ds=${s%%:*}; ipc=${s##*:}
  bench "distill-$ds-ipc$ipc-steps20" --what=distill --dataset="$ds" --model=ConvNet --ipc="$ipc" --syn_steps=20 \
    --iterations=$iterations
done

# Memory against the unroll length.
mem_steps="$mem_lo $mem_hi"
[ "${BENCH_MEMORY:-1}" != 0 ] || mem_steps=""
for k in $mem_steps; do
  label="distill-$mem_ds-ipc$mem_ipc-steps$k"
  [ "$mem_model" = ConvNet ] || label="$label-$mem_model"
  has "$label" || bench "$label" --what=distill --dataset="$mem_ds" --model="$mem_model" --ipc="$mem_ipc" \
    --syn_steps="$k" --iterations=1
done
lo="distill-$mem_ds-ipc$mem_ipc-steps$mem_lo"; hi="distill-$mem_ds-ipc$mem_ipc-steps$mem_hi"
[ "$mem_model" = ConvNet ] || { lo="$lo-$mem_model"; hi="$hi-$mem_model"; }

# Scaling: the same iteration by one process (PoCL threads on every core) and by two ranks
# (mpirun gives each half the cores: host/core/dist.c sets POCL_MAX_PTHREAD_COUNT).
scaling=${BENCH_SCALING:-1}
command -v mpirun >/dev/null || scaling=0
if [ "$scaling" = 1 ]; then
  if [ "$quick" = 1 ]; then sc_model=ConvNetW32; sc_ipc=2; sc_steps=10; else sc_model=ConvNet; sc_ipc=2; sc_steps=20; fi
  sc_flags=(--what=distill --dataset=FashionMNIST --model=$sc_model --ipc=$sc_ipc --syn_steps=$sc_steps
            --iterations=$iterations)
  bench scale-N1 "${sc_flags[@]}"
  # Open MPI refuses root without these; --bind-to none leaves PoCL's threads free to move.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  launch=(mpirun --oversubscribe --bind-to none -np 2)
  bench scale-N2 "${sc_flags[@]}"
  launch=()
fi

# ---- Summary ----
first=${labels[0]}
echo
echo "================ clmtt benchmark summary ================"
echo "device: $(field "$first" device) ($(field "$first" platform)); random data of each dataset's shape; $(($(date +%s) - t0)) s in all"
echo
echo "Expert training (batch_train 256, DSA, SGD):"
printf "  %-12s %-12s %12s %10s %14s\n" model dataset images/s s/step "peak MiB"
for l in "${labels[@]}"; do
  [ "$(field "$l" what)" = train ] || continue
  printf "  %-12s %-12s %12s %10s %14s\n" "$(field "$l" model)" "$(field "$l" dataset)" \
    "$(fmt %.1f "$(field "$l" images_per_second)")" "$(fmt %.3f "$(field "$l" seconds_per_step)")" \
    "$(fmt %.1f "$(field "$l" peak_device_mib)")"
done
echo
echo "Distillation, one iteration (meta-gradient + update), DSA, batch_syn = ipc x classes:"
printf "  %-12s %-12s %4s %6s %10s %10s %22s %11s %9s %7s\n" model dataset ipc steps s/iter "peak MiB" \
  "graph-keeping est. MiB" "GFLOP/iter" "GFLOP/s" "% peak"
for l in "${labels[@]}"; do
  [ "$(field "$l" what)" = distill ] || continue
  [ "${l#scale-}" = "$l" ] || continue   # the scaling runs have their own table
  ds=$(field "$l" dataset); ipc=$(field "$l" ipc); k=$(field "$l" syn_steps); m=$(field "$l" model)
  rate=$(field "$l" iteration_gflops_rate); peak=$(field "$l" device_peak_gflops)
  printf "  %-12s %-12s %4s %6s %10s %10s %22s %11s %9s %7s\n" "$m" "$ds" "$ipc" "$k" \
    "$(fmt %.2f "$(field "$l" seconds_per_iteration)")" "$(fmt %.1f "$(field "$l" peak_device_mib)")" \
    "$(fmt %.1f "$(field "$l" graph_keeping_estimate_mib)")" "$(fmt %.1f "$(field "$l" iteration_gemm_gflop)")" \
    "$(fmt %.1f "$rate")" "$(awk -v r="$rate" -v p="$peak" 'BEGIN { if (p > 0) printf "%.0f%%", 100 * r / p; else print "-" }')"
done
echo "  GFLOP/iter: the matrix products' arithmetic; GFLOP/s: that over the iteration's time; % peak: against"
echo "  the device's float32 peak measured by clmtt bench (chains of fused multiply-adds)."
echo "  clmtt's peak counts its own device buffers; the graph-keeping estimate is an estimate (from the layer"
echo "  table) of what keeping the whole unrolled graph would need, not a measurement. Ratios against PyTorch come"
echo "  only from the peer measured below, on this machine in this run."
echo
if has "$lo" && has "$hi"; then
  echo "Peak memory against the unroll length ($mem_model, $mem_ds ipc $mem_ipc):"
  awk -v klo="$mem_lo" -v khi="$mem_hi" -v blo="$(field "$lo" peak_device_bytes)" -v bhi="$(field "$hi" peak_device_bytes)" \
      -v pv="$(field "$hi" parameter_vector_bytes)" -v elo="$(field "$lo" graph_keeping_estimate_bytes)" \
      -v ehi="$(field "$hi" graph_keeping_estimate_bytes)" \
    'BEGIN {
       per = (bhi - blo) / (khi - klo); eper = (ehi - elo) / (khi - klo)
       printf "  syn_steps %d: %.1f MiB   syn_steps %d: %.1f MiB\n", klo, blo / 1048576, khi, bhi / 1048576
       printf "  growth per extra step: %.0f bytes = %.3f x one parameter vector (%d bytes)\n", per, per / pv, pv
       printf "  graph-keeping estimate grows %.0f bytes per step (%.1f x one parameter vector)\n", eper, eper / pv
     }'
fi
if has scale-N1 && has scale-N2; then
  echo
  echo "Scaling over MPI ranks ($sc_model, FashionMNIST ipc $sc_ipc, syn_steps $sc_steps, DSA; $(nproc) cores):"
  printf "  %-22s %8s %14s %14s %16s\n" ranks s/iter "compute s" "comm+wait s" "peak MiB/rank"
  for l in scale-N1 scale-N2; do
    n=${l#scale-N}
    printf "  %-22s %8s %14s %14s %16s\n" "$n rank(s) x $(($(nproc) / n)) thread(s)" \
      "$(fmt %.3f "$(field "$l" seconds_per_iteration)")" "$(fmt %.3f "$(field "$l" max_rank_compute_seconds)")" \
      "$(fmt %.3f "$(field "$l" max_rank_comm_seconds)")" \
      "$(awk -v b="$(field "$l" max_rank_peak_device_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')"
  done
  awk -v P="$(field scale-N2 parameter_vector_bytes)" -v k="$sc_steps" -v s="$(field scale-N2 allreduce_bytes_per_iteration)" \
    'BEGIN {
       printf "  Bytes summed over the ranks: %.0f per forward step (the gradient), %.0f per reverse step\n", P, P
       printf "  (the Hessian-vector product), %.0f per iteration (with the set'"'"'s gradient). Gathered on rank 0\n", s
       printf "  and broadcast back, rank 0 moves 2 (N-1) x that per iteration: N=2 %.1f MiB, N=4 %.1f MiB, N=8 %.1f MiB.\n",
              2 * s / 1048576, 6 * s / 1048576, 14 * s / 1048576
     }'
fi
echo
echo "records: $jsonl (one JSON object per measurement); full output: $log"

# ---- Same-run PyTorch peer and host-call counts ----
# tools/bench/torch_peer.py runs the same distillation iteration in plain PyTorch (keeping the
# unrolled graph, as the original does) for every distillation row above (ConvNet, syn_steps 20),
# in this invocation, on the matching device: CUDA when clmtt ran on a GPU and torch sees one,
# else the CPU with as many threads as clmtt's device has compute units. Skipped with a note
# when no Python with torch is found.
#   BENCH_PEER=0         leave the peer out
#   BENCH_PYTHON=path    the Python with torch (default: Debian's /usr/bin/python3, else python3)
#   BENCH_TF32=on|off    the peer's TF32 on CUDA (default off: full FP32, as clmtt computes)

# peer_python: prints a Python that imports torch, or nothing.
peer_python() {
  local py
  for py in ${BENCH_PYTHON:-/usr/bin/python3 python3}; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then echo "$py"; return; fi
  done
}

# peer LABEL: runs the peer for the configuration of clmtt's record LABEL; keeps its record as peer-LABEL.
peer() {
  local l=$1 dev=cpu threads
  threads=$(field "$l" compute_units)
  [ -n "$threads" ] && [ "$threads" -ge 1 ] 2>/dev/null || threads=$(nproc)
  if [ "$(field "$l" device_type)" = GPU ] && "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    dev=cuda; threads=$(nproc)
  fi
  local args=(--dataset="$(field "$l" dataset)" --ipc="$(field "$l" ipc)" --syn_steps="$(field "$l" syn_steps)"
              --iterations="$(field "$l" iterations)" --device=$dev --tf32="${BENCH_TF32:-off}" --threads="$threads")
  echo "== [peer-$l] $py tools/bench/torch_peer.py ${args[*]}" | tee -a "$log"
  local line status
  set +e
  line=$("$py" "$root/tools/bench/torch_peer.py" "${args[@]}" 2>>"$log")
  status=$?
  set -e
  [ "$status" = 0 ] || { echo "bench.sh: the PyTorch peer failed for $l (status $status; see $log)" >&2; exit 1; }
  line=$(grep '^{' <<<"$line" | tail -n 1)
  echo "$line" | tee -a "$log" >> "$jsonl"
  rec[peer-$l]=$line
}

peer_labels=()
for l in "${labels[@]}"; do
  [[ $l == distill-* ]] && [ "$(field "$l" model)" = ConvNet ] && [ "$(field "$l" syn_steps)" = 20 ] && peer_labels+=("$l")
done
py=""
[ "${BENCH_PEER:-1}" = 0 ] || py=$(peer_python)
echo
if [ "${BENCH_PEER:-1}" = 0 ]; then
  echo "PyTorch peer: left out (BENCH_PEER=0)"
elif [ -z "$py" ]; then
  echo "PyTorch peer: skipped, no Python with torch found (Debian: apt-get install python3-torch; or set BENCH_PYTHON)"
else
  for l in "${peer_labels[@]}"; do peer "$l"; done
  echo
  echo "Same run, same configurations: clmtt against plain PyTorch (torch_peer.py; random data, ConvNet, DSA, batch_syn = the set):"
  printf "  %-12s %4s %5s %9s %9s %8s %10s %10s %10s %8s\n" dataset ipc steps "clmtt s" "torch s" "torch/" \
    "clmtt MiB" "clmtt RSS" "torch MiB" "torch/"
  for l in "${peer_labels[@]}"; do
    p=peer-$l
    awk -v ds="$(field "$l" dataset)" -v ipc="$(field "$l" ipc)" -v k="$(field "$l" syn_steps)" \
        -v cs="$(field "$l" seconds_per_iteration)" -v ts="$(field "$p" seconds_per_iteration)" \
        -v cb="$(field "$l" peak_device_bytes)" -v cr="$(field "$l" host_peak_rss_bytes)" -v tb="$(field "$p" peak_memory_bytes)" \
      'BEGIN { printf "  %-12s %4s %5s %9.2f %9.2f %7.2fx %10.1f %10.1f %10.1f %7.2fx\n", ds, ipc, k, cs, ts, ts / cs,
               cb / 1048576, cr / 1048576, tb / 1048576, tb / cb }'
  done
  f=${peer_labels[0]}
  echo "  clmtt: $(field "$f" device) ($(field "$f" device_type), $(field "$f" compute_units) compute units); PyTorch $(field "peer-$f" torch)" \
       "on $(field "peer-$f" device) ($(field "peer-$f" device_name)), $(field "peer-$f" threads) threads$( [ "$(field "peer-$f" device)" = cuda ] && echo ", TF32 $(field "peer-$f" tf32)")."
  echo "  Seconds: clmtt's mean and PyTorch's median of the same number of timed iterations after one warm-up."
  echo "  Memory: clmtt's peak of its own device buffers (clmtt RSS: its process's peak resident memory) against"
  echo "  PyTorch's $(field "peer-$f" peak_memory_kind) (on the CPU that includes torch itself: about"
  echo "  $(awk -v b="$(field "peer-$f" baseline_rss_bytes)" 'BEGIN { printf "%.0f", b / 1048576 }') MiB resident before the first iteration). torch/ = PyTorch over clmtt."
fi

echo
echo "Host calls into the OpenCL runtime per distillation iteration and per student step (on a GPU each costs"
echo "a fixed latency; blocking = blocking reads + blocking writes + clFinish and event waits):"
printf "  %-46s %9s %7s %8s   %-23s   %-23s\n" run "launches" CLBlast blocking "forward step l/B/b" "reverse step l/B/b"
for l in "${labels[@]}"; do
  [ "$(field "$l" what)" = distill ] && [ -n "$(field "$l" iteration_launches)" ] || continue
  printf "  %-46s %9s %7s %8s   %-23s   %-23s\n" "$l" "$(fmt %.0f "$(field "$l" iteration_launches)")" \
    "$(fmt %.0f "$(field "$l" iteration_blas_calls)")" "$(fmt %.0f "$(field "$l" iteration_blocking)")" \
    "$(fmt %.1f "$(field "$l" forward_step_launches)") / $(fmt %.1f "$(field "$l" forward_step_blas_calls)") / $(fmt %.1f "$(field "$l" forward_step_blocking)")" \
    "$(fmt %.1f "$(field "$l" reverse_step_launches)") / $(fmt %.1f "$(field "$l" reverse_step_blas_calls)") / $(fmt %.1f "$(field "$l" reverse_step_blocking)")"
done
