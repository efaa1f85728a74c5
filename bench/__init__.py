"""Benchmarks (bench/RESULTS.md): run each from the repository root with ``python -m bench.<area>.<name>``."""
