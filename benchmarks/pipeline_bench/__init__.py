"""Sections of `benchmarks/bench_pipeline.py`, one module each, and the helpers they share."""
