#!/usr/bin/env bash
# Runs tests/test_torch_peer.py with a Python 3 that has PyTorch (python3 on PATH, else Debian's
# /usr/bin/python3); exits 77 (skipped) when there is none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then
    exec "$py" "$here/test_torch_peer.py"
  fi
done
echo "test_torch_peer: skipped: no python3 with PyTorch (Debian: apt-get install python3-torch)"
exit 77
