#!/usr/bin/env bash
# The README's table of trajectory-matching variants on Fashion-MNIST, at ipc 1 and 10, on the
# default OpenCL device:
#   1. experts: DATM_EXPERTS x ConvNetW32, DATM_EPOCHS epochs on the first DATM_TRAIN_IMAGES
#      training images (one buffer for every row);
#   2. per ipc, one distillation per row, with the same experts, iterations and evaluation:
#        plain  MTT as published (real init, hard labels, fixed start-epoch range);
#        soft   plain + learned soft labels (--soft_labels);
#        datm   soft labels started from averaged expert logits, correctly classified real images
#               (--pix_init=samples_predicted_correctly), the growing start-epoch window and an EMA;
#   3. evaluation inside the run: DATM_NUM_EVAL fresh ConvNetW32 x DATM_EVAL_EPOCHS epochs every
#      50 iterations at ipc 1, every 100 at larger ipc (DATM_EVAL_IT overrides); the table gives the last iteration's set and the best evaluation
#      (mean +- std over the networks, and the iteration of the best);
#   4. a Markdown table on stdout and in $DATM_DIR/table.md.
# A finished row is kept (delete its folder to rerun it). Needs a built clmtt (tools/build.sh clmtt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
clmtt=${CLMTT_BUILD_DIR:-$root/build}/clmtt
out=${DATM_DIR:-$root/runs/datm_table}
train_images=${DATM_TRAIN_IMAGES:-8000}
experts=${DATM_EXPERTS:-5}
epochs=${DATM_EPOCHS:-6}
iterations=${DATM_ITERATIONS:-300}
ipcs=${DATM_IPCS:-"1 10"}
rows=${DATM_ROWS:-"plain soft datm"}
num_eval=${DATM_NUM_EVAL:-5}
eval_epochs=${DATM_EVAL_EPOCHS:-300}
seed=${DATM_SEED:-1}
mkdir -p "$out"
data="$out/data"
"$root/tools/fmnist_experts.sh" "$clmtt" "$out" "$train_images" "$experts" "$epochs" "$seed"
common=(--dataset=FashionMNIST --data_path="$data" --model=ConvNetW32)

# The flags of each row. The window grows from half the start-epoch range to all of it over
# the first half of the run; the EMA's horizon (1 / (1 - decay)) is a tenth of the run.
max_start=$((epochs - 2))
row_flags() {
  case $1 in
    plain) echo "" ;;
    soft) echo "--soft_labels=True" ;;
    datm) echo "--soft_labels=True --pix_init=samples_predicted_correctly --min_start_epoch=0" \
               "--current_max_start_epoch=$((max_start / 2)) --max_start_epoch=$max_start" \
               "--expansion_end_epoch=$((iterations / 2)) --Sequential_Generation=True" \
               "--ema_decay=$(awk -v n="$iterations" 'BEGIN { printf "%.4f", 1 - 10 / n }')" ;;
    *) echo "datm_table.sh: unknown row '$1'" >&2; exit 2 ;;
  esac
}

# run IPC NAME: one distillation with its evaluations (skipped when its folder is complete).
eval_every() { if [ -n "${DATM_EVAL_IT:-}" ]; then echo "$DATM_EVAL_IT"; elif [ "$1" -le 1 ]; then echo 50; else echo 100; fi; }

run() {
  local ipc=$1 name=$2 dir="$out/ipc$1_$2"
  if [ -f "$dir/.done" ]; then return; fi
  rm -rf "$dir"
  # shellcheck disable=SC2046
  "$clmtt" distill "${common[@]}" --ipc="$ipc" --syn_steps=10 --expert_epochs=1 --max_start_epoch="$max_start" \
    --lr_img=100 --lr_lr=1e-05 --lr_teacher=0.01 --Iteration="$iterations" --eval_it="$(eval_every "$ipc")" \
    --num_eval="$num_eval" --epoch_eval_train="$eval_epochs" --buffer_path="$out/buffers" --save_path="$dir" \
    --seed="$seed" $(row_flags "$name") > "$dir.log" 2>&1
  touch "$dir/.done"
}

# DATM_PARALLEL=1 runs the rows of an ipc side by side (the s / iteration column then shows
# their sharing of the device).
for ipc in $ipcs; do
  for name in $rows; do
    if [ "${DATM_PARALLEL:-0}" = 1 ]; then run "$ipc" "$name" & else run "$ipc" "$name"; fi
  done
  wait
done

{
  echo "| ipc | run | flags (besides the common ones) | last set (%) | best (%) at iteration | s / iteration |"
  echo "|---|---|---|---|---|---|"
  for ipc in $ipcs; do for name in $rows; do
    python3 - "$out/ipc${ipc}_$name/metrics.jsonl" "$ipc" "$name" "$(row_flags "$name")" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
final = next(l["final"][0] for l in lines if "final" in l)
done = next(l for l in lines if "done" in l)
flags = f"`{sys.argv[4]}`" if sys.argv[4].strip() else "—"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {flags} | {100*final['last_mean']:.2f} ± {100*final['last_std']:.2f} "
      f"| {100*final['best_mean']:.2f} ± {100*final['best_std']:.2f} at {final['best_iteration']} "
      f"| {done['seconds_per_iteration']:.2f} |")
PY
  done; done
} | tee "$out/table.md"
echo "common: $experts ConvNetW32 experts x $epochs epochs on $train_images Fashion-MNIST training images;" \
  "distill --syn_steps=10 --expert_epochs=1 --max_start_epoch=$max_start --lr_img=100 --lr_lr=1e-05" \
  "--lr_teacher=0.01, DSA, $iterations iterations, seed $seed; evaluation every 50 (ipc 1) or 100 iterations:" \
  "$num_eval ConvNetW32 x $eval_epochs epochs, test accuracy on the 10000 test images;" \
  "device: $("$clmtt" devices | sed -n 's/^\* [0-9]*: //p')" | tee -a "$out/table.md"
