"""The benchmark suite: `python -m benchmarks` (or `make bench`); a tool, not a test."""
