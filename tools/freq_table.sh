#!/usr/bin/env bash
# The pixel vs frequency-domain comparison of the README, on Fashion-MNIST at the storage of
# ipc 1, on the default OpenCL device:
#   1. experts: FREQ_EXPERTS x ConvNetW32, FREQ_EPOCHS epochs on the first FREQ_TRAIN_IMAGES
#      training images (one buffer for every row);
#   2. one distillation per row, the same flags and iterations: --param=pixel, then
#      --param=freq at each --freq_dims of FREQ_DIMS;
#   3. the last iteration's set of each row: FREQ_NUM_EVAL fresh ConvNetW32, FREQ_EVAL_EPOCHS
#      epochs each (clmtt eval --json), mean and std;
#   4. a Markdown table: settings, accuracy, seconds per iteration.
# Needs a built clmtt (tools/build.sh clmtt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
clmtt=${CLMTT_BUILD_DIR:-$root/build}/clmtt
out=${FREQ_DIR:-$root/runs/freq_table}
train_images=${FREQ_TRAIN_IMAGES:-8000}
experts=${FREQ_EXPERTS:-5}
epochs=${FREQ_EPOCHS:-6}
iterations=${FREQ_ITERATIONS:-200}
dims=${FREQ_DIMS:-"64 128"}
num_eval=${FREQ_NUM_EVAL:-5}
eval_epochs=${FREQ_EVAL_EPOCHS:-300}
seed=${FREQ_SEED:-1}
data="$out/data"
"$root/tools/fmnist_experts.sh" "$clmtt" "$out" "$train_images" "$experts" "$epochs" "$seed"
common=(--dataset=FashionMNIST --data_path="$data" --model=ConvNetW32)

# row NAME FLAGS...: distill, then evaluate the last set; prints one table row.
row() {
  local name=$1; shift
  rm -rf "$out/$name"
  "$clmtt" distill "${common[@]}" --ipc=1 --syn_steps=10 --expert_epochs=1 --max_start_epoch=$((epochs - 2)) \
    --lr_img=100 --lr_lr=1e-05 --lr_teacher=0.01 --Iteration="$iterations" --eval_it="$iterations" --num_eval=0 \
    --buffer_path="$out/buffers" --save_path="$out/$name" --seed="$seed" "$@" > "$out/$name.log" 2>&1
  "$clmtt" eval "${common[@]}" --syn="$out/$name/images_last.safetensors" --num_eval="$num_eval" \
    --epoch_eval_train="$eval_epochs" --seed="$seed" --json > "$out/$name.eval.json" 2> "$out/$name.eval.log"
  python3 - "$out/$name.eval.json" "$out/$name/metrics.jsonl" "$name" "$*" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["models"][0]
its = [json.loads(l) for l in open(sys.argv[2]) if '"loss"' in l]
sec = sum(i["seconds"] for i in its) / max(len(its), 1)
rows = json.loads(open(sys.argv[2]).readline())["settings"].get("images_per_class", 1)
print(f"| {sys.argv[3]} | `{sys.argv[4]}` | {rows} | {100*e['mean']:.2f} ± {100*e['std']:.2f} | {sec:.2f} |")
PY
}

{
  echo "| run | flags | images per class | accuracy (%), last set, $num_eval x ConvNetW32, $eval_epochs epochs | s / iteration |"
  echo "|---|---|---|---|---|"
  row pixel --param=pixel
  for k in $dims; do row "freq$k" --param=freq --freq_dims="$k"; done
} | tee "$out/table.md"
echo "settings: $experts ConvNetW32 experts x $epochs epochs on $train_images images, $iterations iterations, syn_steps 10, seed $seed; device: $("$clmtt" devices | sed -n 's/^\* [0-9]*: //p')" | tee -a "$out/table.md"
