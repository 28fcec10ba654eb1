"""Sparse encoders (BM25 as portable hashed sparse vectors)."""
