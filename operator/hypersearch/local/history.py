"""Reading the earlier searches a local run names in ``spec.stage1.history``: a ``results``
entry is a results directory (or its results.json) relative to the manifest's directory; a
``name`` entry an earlier local run of that name, in ``results/NAME`` of the current directory
(where ``hypersearch run`` keeps a search by default). Checking them is
:mod:`hypersearch.report.earlier`'s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypersearch.engine.history import Search as HistorySearch
from hypersearch.report.earlier import Earlier, HistoryError, earlier_search, ordered, where
from hypersearch.spec.model import HistoryEntry, SearchSpec

LOCAL_RESULTS = Path("results")
RESULTS_FILE = "results.json"  # as hypersearch.report.render writes it


def results_path(entry: HistoryEntry, manifest_dir: Path) -> Path:
    """Where an entry's results.json is."""
    if entry.name is not None:
        return LOCAL_RESULTS / entry.name / RESULTS_FILE
    path = manifest_dir / str(entry.results)
    return path if path.suffix == ".json" else path / RESULTS_FILE


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise HistoryError(f"{path} not found") from e
    except OSError as e:
        raise HistoryError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = json.loads(text)
    except ValueError as e:
        raise HistoryError(f"{path} is not JSON: {e}") from e
    if not isinstance(data, dict) or "trials" not in data:
        raise HistoryError(f"{path} is not a HyperSearch results.json")
    return data


def load_history(
    spec: SearchSpec, manifest_dir: Path
) -> tuple[dict[str, HistorySearch], list[str]]:
    """The earlier searches of ``spec`` by label, oldest first, and every problem found (one
    line each, naming the entry); nothing is used when there is a problem."""
    found: list[Earlier] = []
    errors: list[str] = []
    for index, entry in enumerate(spec.history.searches):
        path = results_path(entry, manifest_dir)
        try:
            data = _read(path)
        except HistoryError as e:
            hint = (
                f" (no earlier local run named {entry.name!r}: hypersearch run keeps a search "
                "in results/NAME of the directory it runs in; in a cluster the operator looks "
                "the name up in the search's namespace when it admits the search)"
                if entry.name is not None
                else ""
            )
            errors.append(f"{where(index, entry)}: {e}{hint}")
            continue
        try:
            found.append(earlier_search(data, spec, index, entry))
        except HistoryError as e:
            errors.append(str(e))
    return ({} if errors else ordered(found)), errors


__all__ = ["LOCAL_RESULTS", "load_history", "results_path"]
