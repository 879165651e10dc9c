"""Reference trainer for HyperSearch: online training with progressive validation on drifting streams.

The package is one process a trial pod runs: it reads a time-ordered stream cut into windows,
scores every window before training on it, exports the metrics protocol of docs/design.md §3 over
Prometheus and writes a final JSON result.
"""

__version__ = "0.1.0"
