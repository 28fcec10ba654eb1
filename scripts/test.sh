#!/usr/bin/env bash
# The whole test suite, from nothing: set up, lint, type-check, then pytest against the
# real engines (started by the tests). Every engine that can run here is required:
# a skipped engine fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export POLYVEC_REQUIRE="${POLYVEC_REQUIRE:-qdrant,pgvector,chroma,milvus}"
ruff check src tests benchmarks scripts
ruff format --check src tests benchmarks scripts
mypy
# the documentation site, built strictly (warnings fail) into a throwaway directory
site_dir="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$site_dir"
rm -rf "$site_dir"
python -m pytest -q -p no:cacheprovider "$@"
