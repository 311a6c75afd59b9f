#!/usr/bin/env bash
# Runs tests/test_convert_pt.py with a Python 3 that has NumPy (python3 on PATH, else Debian's
# /usr/bin/python3); exits 77 (skipped) when there is none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import numpy' >/dev/null 2>&1; then
    exec "$py" "$here/test_convert_pt.py"
  fi
done
echo "test_convert_pt: skipped: no python3 with NumPy (Debian: apt-get install python3-numpy)"
exit 77
