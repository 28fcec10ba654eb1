"""The portable filter language: AST and builder, dict parser, reference evaluator."""

from polyvec.filters.ast import And, Comparison, F, Filter, Not, Op, Or

__all__ = ["And", "Comparison", "F", "Filter", "Not", "Op", "Or"]
