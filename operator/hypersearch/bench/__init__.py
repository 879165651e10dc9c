"""Benchmarks shipped with the command line (``hypersearch bench ...``)."""
