#!/usr/bin/env bash
# The main job, from nothing: set up, keep a collection in step with real offline text
# (the system's section-1 man pages, less the near-duplicate gcloud pages) in the
# embedded default store, then answer a few questions with hybrid search (BM25 + MiniLM,
# fused with DBSF), one answer per document.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
LIMIT="${POLYVEC_DEMO_LIMIT:-200}"
MAN1="${POLYVEC_DEMO_MAN:-/usr/share/man/man1}"
# first run: reads, chunks and embeds every page; a second run embeds only what changed
polyvec ingest "$MAN1" --collection manpages --exclude 'gcloud*' --limit "$LIMIT" --delete-missing
polyvec ingest "$MAN1" --collection manpages --exclude 'gcloud*' --limit "$LIMIT" --delete-missing \
  --no-progress
for q in "compress or decompress files" "show the differences between two files" \
         "search for a pattern in text" "change the owner of a file"; do
  polyvec search "$q" --collection manpages --k 3 --group-by doc_id
done
polyvec info
