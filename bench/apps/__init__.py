"""One module per app: its generators, scenarios and batch jobs (see bench/registry.py)."""
