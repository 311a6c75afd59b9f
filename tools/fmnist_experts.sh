#!/usr/bin/env bash
# fmnist_experts.sh CLMTT DIR TRAIN_IMAGES EXPERTS EPOCHS SEED: the experts the measured tables
# share: the first TRAIN_IMAGES Fashion-MNIST training images in DIR/data (tools/fmnist_subset.sh),
# and EXPERTS x ConvNetW32 trained EPOCHS epochs on them in DIR/buffers (one file; log in
# DIR/buffer.log). Kept when DIR already holds them.
set -euo pipefail
clmtt=$1 out=$2 train_images=$3 experts=$4 epochs=$5 seed=$6
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/fmnist_subset.sh" "$out/data" "$train_images"
if [ ! -f "$out/buffers/.done_${experts}x$epochs" ]; then
  rm -rf "$out/buffers"
  "$clmtt" buffer --dataset=FashionMNIST --data_path="$out/data" --model=ConvNetW32 --num_experts="$experts" \
    --train_epochs="$epochs" --save_interval="$experts" --buffer_path="$out/buffers" --seed="$seed" \
    > "$out/buffer.log" 2>&1
  touch "$out/buffers/.done_${experts}x$epochs"
fi
