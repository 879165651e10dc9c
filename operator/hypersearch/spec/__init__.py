"""The HyperSearch spec: validated against the CRD schema, defaulted, checked, then typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hypersearch.spec.advice import SpecWarning, spec_warnings
from hypersearch.spec.errors import SpecError, SpecInvalid
from hypersearch.spec.limits import limit_errors
from hypersearch.spec.model import DataRange, Parameter, SearchSpec, from_document
from hypersearch.spec.schema import API_VERSION, KIND, apply_defaults, schema_errors
from hypersearch.spec.semantic import semantic_errors

__all__ = [
    "API_VERSION",
    "KIND",
    "DataRange",
    "Parameter",
    "SearchSpec",
    "SpecError",
    "SpecInvalid",
    "SpecWarning",
    "check",
    "load_documents",
    "load_file",
    "parse",
    "spec_warnings",
]


def check(document: Any) -> tuple[dict[str, Any], list[SpecError]]:
    """Validate one HyperSearch object; return it defaulted, and every error found."""
    if not isinstance(document, dict):
        return {}, [SpecError("<root>", "a HyperSearch manifest must be a mapping")]
    errors = schema_errors(document)
    if errors:
        return document, errors
    defaulted = apply_defaults(document)
    return defaulted, semantic_errors(defaulted) + limit_errors(defaulted)


def parse(document: Any, source: str = "") -> SearchSpec:
    """The typed spec of a HyperSearch object, or :class:`SpecInvalid` listing every error."""
    defaulted, errors = check(document)
    if errors:
        raise SpecInvalid(errors, source)
    return from_document(defaulted)


def load_documents(path: str | Path) -> list[Any]:
    """The YAML documents of a manifest file; a clear error if it can't be read or parsed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecInvalid([SpecError("<file>", f"cannot read: {e.strerror}")], str(p)) from e
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise SpecInvalid([SpecError("<file>", f"not valid YAML: {e}")], str(p)) from e


def load_file(path: str | Path) -> SearchSpec:
    """The one HyperSearch of a manifest file."""
    docs = [d for d in load_documents(path) if not isinstance(d, dict) or d.get("kind") == KIND]
    if len(docs) != 1:
        found = f"{len(docs)} HyperSearch objects"
        raise SpecInvalid(
            [SpecError("<file>", f"expected one HyperSearch, found {found}")], str(path)
        )
    return parse(docs[0], str(path))
