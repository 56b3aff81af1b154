"""Harness code shared by the tests and the tools' benchmarks (tests/ is on the path: pyproject.toml's pytest
`pythonpath`; tools/bench_hub.py adds it itself)."""
