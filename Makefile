# One place for the project's commands; each script sets up .venv from nothing.
.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	. .venv/bin/activate && ruff check src tests benchmarks scripts && ruff format --check src tests benchmarks scripts && mypy

bench:
	. .venv/bin/activate && python benchmarks/bench_qdrant.py
