"""Inputs with a known truth and the measures that score outputs against it.

Shared by ``tests/`` and ``benchmarks/`` (a test asserts the same quantity a benchmark
reports); never imported by animakit itself, and not part of the wheel. Import it with the
repository root on ``sys.path``: benchmark scripts put it there, and pytest does through
``pythonpath`` in pyproject.toml.
"""
