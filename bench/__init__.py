"""Benchmarks of the referral engine: `python bench/run.py` (load) and `python bench/bench_sla.py` (SLA maths)."""
