"""Benchmarks: each figure measured beside its baseline in the same run (see bench/run.py)."""
