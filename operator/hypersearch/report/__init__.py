"""Results of a search: ``results.json`` for machines, ``report.html`` with plots for people."""

from hypersearch.report.render import render_report, write_results

__all__ = ["render_report", "write_results"]
