"""Benchmarks: ``python -m bench.run --cases 1000000`` (see bench/RESULTS.md for the latest figures)."""
