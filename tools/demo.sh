#!/usr/bin/env bash
# The main job on Fashion-MNIST, end to end, on the default OpenCL device:
#   1. install dependencies, build;
#   2. train a few small experts (clmtt buffer) on a training subset;
#   3. distill one image per class (clmtt distill);
#   4. evaluate the distilled set against a random real set of the same size (clmtt eval);
#   5. print a summary: accuracies, time, peak device memory, where the files are (clmtt report
#      sums up the run folder, whose curves.png and evolution.gif show the run).
# About 5 minutes on 2 CPU cores (PoCL) after the build; raise the knobs below for a fuller run.
set -euo pipefail
trap 'echo "demo: failed at line $LINENO (exit $?)" >&2' ERR
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
"$root/tools/build.sh" clmtt
clmtt=${CLMTT_BUILD_DIR:-$root/build}/clmtt

out=${DEMO_DIR:-$root/runs/demo}
model=${DEMO_MODEL:-ConvNetW32}
train_images=${DEMO_TRAIN_IMAGES:-8000}     # 60000 = the whole training set
experts=${DEMO_EXPERTS:-3}
epochs=${DEMO_EPOCHS:-3}
iterations=${DEMO_ITERATIONS:-100}
eval_epochs=${DEMO_EVAL_EPOCHS:-300}
num_eval=${DEMO_NUM_EVAL:-3}
seed=${DEMO_SEED:-1}
mkdir -p "$out"

# A training subset in the same IDX format; the test set stays whole.
data="$out/data"
"$root/tools/fmnist_subset.sh" "$data" "$train_images"

t0=$(date +%s)
echo "== clmtt devices"
"$clmtt" devices
echo "== 1/3 experts: $experts x $model, $epochs epochs on $train_images Fashion-MNIST images"
rm -rf "$out/buffers"
"$clmtt" buffer --dataset=FashionMNIST --data_path="$data" --model="$model" --num_experts="$experts" \
  --train_epochs="$epochs" --buffer_path="$out/buffers" --seed="$seed" 2>&1 | grep --line-buffered -v "^class c" | tee "$out/buffer.log"
t1=$(date +%s)
eval_it=$((iterations / 5 > 0 ? iterations / 5 : 1))
echo "== 2/3 distillation: ipc 1, $iterations iterations, evaluated every $eval_it by 2 networks"
rm -rf "$out/distill"
"$clmtt" distill --dataset=FashionMNIST --data_path="$data" --model="$model" --ipc=1 --syn_steps=10 \
  --expert_epochs=1 --max_start_epoch=$((epochs - 1 > 0 ? epochs - 1 : 1)) --lr_img=100 --lr_lr=1e-05 \
  --lr_teacher=0.01 --Iteration="$iterations" --eval_it="$eval_it" --num_eval=2 --epoch_eval_train="$eval_epochs" \
  --buffer_path="$out/buffers" --save_path="$out/distill" --seed="$seed" 2>&1 | grep --line-buffered -v "^class c" | tee "$out/distill.log"
t2=$(date +%s)
echo "== 3/3 evaluation: $num_eval networks each, $eval_epochs epochs"
"$clmtt" eval --dataset=FashionMNIST --data_path="$data" --model="$model" --syn="$out/distill/images_last.safetensors" \
  --num_eval="$num_eval" --epoch_eval_train="$eval_epochs" --seed="$seed" 2>&1 | tee "$out/eval_distilled.log"
"$clmtt" eval --dataset=FashionMNIST --data_path="$data" --model="$model" --random_real=1 \
  --num_eval="$num_eval" --epoch_eval_train="$eval_epochs" --seed="$seed" 2>&1 | tee "$out/eval_random.log"
t3=$(date +%s)

acc() { grep -o "mean = [0-9.]* std = [0-9.]*" "$1" | tail -1; }
peak() { grep -o "peak device memory [0-9.]* [KMG]*i*B" "$1" | tail -1; }
echo
echo "== summary"
echo "device:           $("$clmtt" devices | sed -n 's/^\* [0-9]*: //p')"
echo "experts:          $experts x $model, $epochs epochs, $((t1 - t0)) s, $(peak "$out/buffer.log")"
echo "distillation:     $iterations iterations, $((t2 - t1)) s, $(grep -o '([0-9.]* s per iteration)' "$out/distill.log"), $(peak "$out/distill.log")"
echo "distilled set:    $(acc "$out/eval_distilled.log")  (10 images, $num_eval x $model, $eval_epochs epochs)"
echo "random real set:  $(acc "$out/eval_random.log")  (10 images, same protocol)"
echo "evaluation time:  $((t3 - t2)) s; total $((t3 - t0)) s"
echo "pictures:         $out/distill/images_last.png (and images_0.png: the real images it started from)"
echo "run report:       $out/distill/curves.png, $out/distill/evolution.gif (clmtt report $out/distill)"
echo "synthetic set:    $out/distill/images_last.safetensors"
