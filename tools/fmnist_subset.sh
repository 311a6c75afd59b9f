#!/usr/bin/env bash
# fmnist_subset.sh DIR N: the first N Fashion-MNIST training images (and their labels) in
# the same IDX format (header with the new count), and the whole test set, into DIR. Kept
# when DIR already holds that subset. Used by demo.sh and freq_table.sh.
set -euo pipefail
data=$1 train_images=$2
src=/usr/share/datasets/fashion-mnist
# take FILE SKIP COUNT: COUNT bytes of the gunzipped FILE after SKIP bytes. head stops early on
# purpose, so the broken pipe upstream is expected here and not an error.
take() { ( set +o pipefail; zcat "$1" | tail -c +$(($2 + 1)) | head -c "$3" ); }
be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
mkdir -p "$data"
if [ ! -f "$data/.n$train_images" ]; then
  rm -f "$data"/*
  { printf '\x00\x00\x08\x03'; be32 "$train_images"; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c';
    take "$src/train-images-idx3-ubyte.gz" 16 $((train_images * 784)); } > "$data/train-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; be32 "$train_images";
    take "$src/train-labels-idx1-ubyte.gz" 8 "$train_images"; } > "$data/train-labels-idx1-ubyte"
  cp "$src/t10k-images-idx3-ubyte.gz" "$src/t10k-labels-idx1-ubyte.gz" "$data/"
  touch "$data/.n$train_images"
fi
