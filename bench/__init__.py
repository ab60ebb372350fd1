"""Benchmarks of mmbot (``make bench``): reaction latency, overhead, capacity, compute costs, memory, sim ceiling.

Not part of the installed package; run from the repository root with ``python -m bench``.
"""
