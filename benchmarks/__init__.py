"""Benchmarks: search quality (issue 5) and, later, performance (issue 6)."""
