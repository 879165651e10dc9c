"""Local mode: the whole two-stage search on one machine, trials as subprocesses."""

from hypersearch.local.runner import LocalRunner, RunOptions

__all__ = ["LocalRunner", "RunOptions"]
