"""The benchmark harness (`make bench`): see README.md, "Benchmark", and bench/registry.py."""
