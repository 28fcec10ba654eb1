#!/usr/bin/env bash
# Create .venv and install polyvec with every extra and the test tools.
# torch goes in first, pinned to a CPU build, so that sentence-transformers does not
# pull a multi-GB CUDA build (override with POLYVEC_TORCH, e.g. "torch" on a GPU box).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip warns about every missing local index directory: keep those lines out of the log
pip_install() { python -m pip install -q "$@" 2> >(grep -v "is ignored" >&2); }
pip_install --upgrade pip
pip_install "${POLYVEC_TORCH:-torch==2.13.0}"
pip_install -e ".[all,test,docs]"
python -c "import polyvec, torch, sentence_transformers, qdrant_client, onnxruntime, tokenizers" \
  || { echo "setup failed: see the pip output above" >&2; exit 1; }
# The default embedder runs all-MiniLM-L6-v2 with ONNX Runtime: export it now, once, into
# polyvec's cache directory (~/.cache/polyvec, or $POLYVEC_CACHE_DIR), fp32 and this CPU's
# int8 recipe; otherwise the first embedding does it.
python -m polyvec.onnx_export >/dev/null
echo "polyvec environment ready in .venv (torch $(python -c 'import torch; print(torch.__version__)'))"
