"""An ``add`` that fails after some of its batches were written says exactly which ids
are in the store (``WriteError.written``) and which are not (``.failed``); the store
holds exactly the written ones and the statistics still equal a recount."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from polyvec import Collection, WriteError
from polyvec.backends.registry import open_backend
from tests.safety.test_crash import recount
from tests.transfer.data import HashEmbedder, make_docs


class FailingEmbedder(HashEmbedder):
    """The test embedder, failing on its ``fail_at``-th call (a model that runs out of
    memory part-way, say)."""

    def __init__(self, fail_at: int) -> None:
        self.calls, self.fail_at = 0, fail_at

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the model ran out of memory")
        return super().embed_documents(texts)


@pytest.mark.qdrant
@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_failure_part_way_names_what_was_written(engine_url, fail_at):
    docs = [d for d in make_docs(60) if d.dense is None][:50]
    coll = Collection(open_backend(engine_url("qdrant-edge")), "kb",
                      embedder=FailingEmbedder(fail_at), batch_size=10)  # fmt: skip
    try:
        if fail_at == 1:  # nothing written: the error as it came
            with pytest.raises(RuntimeError, match="ran out of memory"):
                coll.add(docs, progress=False)
            assert coll.count() == 0
            return
        with pytest.raises(WriteError) as caught:
            coll.add(docs, progress=False)
        err = caught.value
        assert err.written == [d.id for d in docs[:20]]
        assert err.failed == [d.id for d in docs[20:]]
        assert "ran out of memory" in str(err) and "20 document(s) were written" in str(err)
        assert isinstance(err.__cause__, RuntimeError)
        stored = sorted(str(d.id) for page in coll.scroll() for d in page)
        assert stored == sorted(str(i) for i in err.written)
        assert coll.stats == recount(coll)
        coll.add([d for d in docs if d.id in set(err.failed)], progress=False)  # the rest
        assert coll.count() == len(docs) and coll.stats == recount(coll)
    finally:
        coll.close()
