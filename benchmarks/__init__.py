"""Benchmark scripts (run as ``python benchmarks/NAME.py``) and their shared helpers."""
