"""``polyvec search`` starts without torch: ONNX Runtime embeds the query, and a query
already in the CLI's query cache loads no model at all (fresh processes, real engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.qdrant_edge, pytest.mark.models]

HEAVY = ["torch", "transformers", "sentence_transformers", "onnx", "onnxruntime"]
PROBE = (
    "import json, sys\n"
    "from polyvec.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]), file=sys.stderr)\n"
)


def run(args: list[str], cwd: Path) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POLYVEC_URL", "POLYVEC_EMBEDDER")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    code, loaded = json.loads(done.stderr.strip().splitlines()[-1])
    return code, loaded, done.stdout


def test_search_imports_no_torch_and_a_cached_query_loads_no_model(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gzip.txt").write_text("gzip reduces the size of files with Lempel-Ziv coding")
    (docs / "grep.txt").write_text("grep prints the lines of a file that match a pattern")
    code, loaded, _ = run(["ingest", str(docs), "--no-progress"], tmp_path)
    assert code == 0 and "torch" not in loaded, loaded

    query = f"make a file smaller {uuid.uuid4().hex[:8]}"  # not in the query cache yet
    code, loaded, out = run(["search", query, "--k", "1", "--mode", "dense", "--json"], tmp_path)
    assert code == 0 and json.loads(out)[0]["metadata"]["title"] == "gzip"
    assert loaded == ["onnxruntime"]  # the query was embedded, without torch

    code, loaded, again = run(["search", query, "--k", "1", "--mode", "dense", "--json"], tmp_path)
    assert code == 0 and loaded == [] and again == out  # the same vector, from the cache

    code, loaded, _ = run(
        ["search", query, "--k", "1", "--mode", "dense", "--no-query-cache"], tmp_path
    )
    assert code == 0 and loaded == ["onnxruntime"]
