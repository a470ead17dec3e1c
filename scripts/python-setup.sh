#!/usr/bin/env bash
# `npm run python:setup`: the optional Python part in a virtual environment at .venv-python/:
#   1. numpy, safetensors and python/rosetta_trace (editable): the trace writer for other engines;
#   2. the transformers engine's stack (`--engine-a transformers`): torch 2.15.0 with only the NVIDIA
#      libraries it links (python/requirements-torch-cpu.txt, installed --no-deps: a CPU run needs no
#      triton, cusolver, ...), then transformers and gguf (python/requirements-engine.txt).
# ROSETTA_PYTHON_TORCH=0 stops after step 1 (the numpy-only writer; the transformers engine then says in
# one line that it needs this command). Tests that need a step skip with a message when it is absent.
# Measured install cost: docs/transformers-engine.md.
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
PIP=(.venv-python/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" numpy safetensors
"${PIP[@]}" -e python/
.venv-python/bin/python -c "import rosetta_trace, numpy, safetensors; print('python:setup: .venv-python ready (rosetta_trace', rosetta_trace.__version__ + ', numpy', numpy.__version__ + ', safetensors', safetensors.__version__ + ')')"
if [ "${ROSETTA_PYTHON_TORCH:-1}" = "0" ]; then
  echo "python:setup: ROSETTA_PYTHON_TORCH=0: the transformers engine's stack (torch, transformers) is not installed"
  exit 0
fi
start=$SECONDS
"${PIP[@]}" --no-deps -r python/requirements-torch-cpu.txt
"${PIP[@]}" -r python/requirements-engine.txt
.venv-python/bin/python -m rosetta_trace.hf_engine --versions >/dev/null
echo "python:setup: transformers engine ready ($(.venv-python/bin/python -m rosetta_trace.hf_engine --versions); $((SECONDS - start)) s)"
