"""Benchmarks: `make bench` runs every `*_bench.py` module's `main()`; each prints its figures."""
