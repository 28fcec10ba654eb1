"""Sparse encoders: BM25 as portable hashed sparse vectors, and its corpus statistics.

>>> from polyvec.sparse import BM25, CorpusStats
>>> bm25 = BM25()
>>> stats = CorpusStats()
>>> stats.add_many(bm25.term_counts_many(["red apples", "green apples", "red cars"]))
>>> [round(v, 4) for v in bm25.encode_query("red", stats).values]
[0.47]
"""

from polyvec.sparse.bm25 import BM25
from polyvec.sparse.stats import CorpusStats
from polyvec.sparse.tokenize import ENGLISH_STOPWORDS, SPARSE_DIMENSION, Tokenizer, token_id

__all__ = [
    "BM25",
    "ENGLISH_STOPWORDS",
    "SPARSE_DIMENSION",
    "CorpusStats",
    "Tokenizer",
    "token_id",
]
