#!/usr/bin/env bash
# The worker's Python packages into a virtualenv: `worker-python.sh <venv> cpu` installs
# worker-py/requirements.txt (numpy, for dtw); `gpu` installs worker-py/requirements-gpu.txt,
# exactly the file `npm run test:engines` tests (scripts/cached-venv.mjs), then flash-attn built
# from source against the CUDA toolkit found at CUDA_HOME. Run from the repository root.
set -euo pipefail
venv=$1 kind=$2
python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check -q)
case "$kind" in
  cpu) "${pip[@]}" -r worker-py/requirements.txt ;;
  gpu)
    "${pip[@]}" -r worker-py/requirements-gpu.txt
    # Against the torch just installed (no isolated build, which would fetch another torch), built
    # here rather than a prebuilt wheel from outside PyPI.
    FLASH_ATTENTION_FORCE_BUILD=TRUE MAX_JOBS="${MAX_JOBS:-4}" "${pip[@]}" --no-build-isolation "flash-attn==${FLASH_ATTN_VERSION:-2.8.3}" ;;
  *) echo "usage: $0 <venv> cpu|gpu" >&2; exit 2 ;;
esac
