"""Benchmarks of nnscratch against references, run with ``python -m benchmarks``."""
