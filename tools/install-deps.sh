#!/usr/bin/env bash
# Installs clmtt's build and run dependencies from Debian packages (Debian 12).
# Idempotent: does nothing when every package is present; runs apt-get update once when needed.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 pocl-opencl-icd clinfo
  libclblast-dev libclfft-dev
  libpng-dev zlib1g-dev libcjson-dev libturbojpeg0-dev libcairo2-dev libgif-dev libyaml-dev
  liblapacke-dev libopenblas-dev librandom123-dev
  libopenmpi-dev openmpi-bin
  check python3-numpy oclgrind
  clang clang-16 libfuzzer-16-dev libclang-rt-16-dev
  dataset-fashion-mnist
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: refresh them once.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
