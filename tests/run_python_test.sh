#!/usr/bin/env bash
# run_python_test.sh SCRIPT MODULE PACKAGE: runs tests/SCRIPT with a Python 3 that can import
# MODULE (python3 on PATH, else Debian's /usr/bin/python3); exits 77 (skipped) when there is
# none, naming the Debian PACKAGE that provides it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=$1 module=$2 package=$3
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c "import $module" >/dev/null 2>&1; then
    exec "$py" "$here/$script"
  fi
done
echo "${script%.py}: skipped: no python3 with $module (Debian: apt-get install $package)"
exit 77
