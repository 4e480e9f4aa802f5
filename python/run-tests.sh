#!/usr/bin/env bash
# Installs the package into python/.venv (Debian's torch, numpy and pytest come from the
# system site packages: no registry is reached) and runs its tests. Extra arguments go to
# pytest, e.g. python/run-tests.sh -k golden -v
set -euo pipefail
cd "$(dirname "$0")"
py=${LSEQ_PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --no-build-isolation --no-index . 2>&1 \
  || { echo "run-tests: pip install of python/ failed" >&2; exit 1; }
.venv/bin/python -c 'import torch, numpy, pytest' \
  || { echo "run-tests: needs torch, numpy and pytest in $py's site packages" >&2; exit 1; }
cd tests
exec ../.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
