#!/usr/bin/env bash
# `npm run python:setup`: the optional Python part (python/rosetta_trace, the trace writer for other
# engines) in a virtual environment at .venv-python/: numpy, safetensors and the package (editable).
# Tests that need it find .venv-python/bin/python and skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# (re)create it unless it exists with a working pip (a venv made without ensurepip has none)
if ! .venv-python/bin/python -m pip --version >/dev/null 2>&1; then
  "$PY" -m venv --clear .venv-python || {
    echo "python:setup: '$PY -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
fi
.venv-python/bin/python -m pip install --quiet --disable-pip-version-check numpy safetensors
.venv-python/bin/python -m pip install --quiet --disable-pip-version-check -e python/
.venv-python/bin/python -c "import rosetta_trace, numpy, safetensors; print('python:setup: .venv-python ready (rosetta_trace', rosetta_trace.__version__ + ', numpy', numpy.__version__ + ', safetensors', safetensors.__version__ + ')')"
