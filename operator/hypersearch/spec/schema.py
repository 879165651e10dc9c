"""Local use of the CRD's own OpenAPI schema: the single source of truth for a spec's shape.

The API server validates, prunes and defaults custom resources from this schema; the helpers here
do the same for manifests that never reach a cluster (``hypersearch validate`` / ``run``), so a
spec behaves identically in both places.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from hypersearch.spec.errors import SpecError, join_path

GROUP = "hypersearch.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "HyperSearch"


@cache
def crd() -> dict[str, Any]:
    """The HyperSearch CustomResourceDefinition, read from the packaged manifest."""
    text = resources.files("hypersearch.spec").joinpath("crd.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@cache
def openapi_schema() -> dict[str, Any]:
    """The openAPIV3Schema of the served version."""
    for version in crd()["spec"]["versions"]:
        if version["name"] == VERSION:
            schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"CRD has no version {VERSION}")


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``schema`` where objects with declared properties reject unknown fields.

    The API server silently prunes unknown fields (and kubectl's strict field validation rejects
    them); locally we report them, since a typo like ``paralelism`` would otherwise be lost.
    """
    out = copy.deepcopy(schema)

    def walk(node: dict[str, Any]) -> None:
        props = node.get("properties")
        if isinstance(props, dict):
            if not node.get("x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            for child in props.values():
                walk(child)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items)

    walk(out)
    # metadata is validated by the API server itself, not by the CRD schema.
    out["properties"]["metadata"] = {"type": "object"}
    return out


@cache
def _validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(_closed(openapi_schema()))


def _error_path(error: jsonschema.ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path = join_path(path, part)
    return path or "<root>"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown field(s) {', '.join(repr(e) for e in extra)}"
    if error.validator == "required":
        return str(error.message).replace("is a required property", "is required")
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{error.instance!r} is not one of: {allowed}"
    return str(error.message)


def schema_errors(document: dict[str, Any]) -> list[SpecError]:
    """Every schema violation of ``document`` (a whole HyperSearch object), with field paths."""
    errors: list[SpecError] = []
    for error in _validator().iter_errors(document):
        path = _error_path(error)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            errors.extend(SpecError(join_path(path, e), "unknown field") for e in extra)
        else:
            errors.append(SpecError(path, _message(error)))
    return errors


def apply_defaults(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with the schema's defaults filled in, as the API server does.

    Defaults are applied top-down, so a defaulted ``{}`` object receives its own fields' defaults.
    """
    out = copy.deepcopy(document)

    def walk(node: Any, schema: dict[str, Any]) -> None:
        if isinstance(node, dict):
            props = schema.get("properties", {})
            for name, sub in props.items():
                if name not in node and "default" in sub:
                    node[name] = copy.deepcopy(sub["default"])
                if name in node:
                    walk(node[name], sub)
        elif isinstance(node, list) and isinstance(schema.get("items"), dict):
            for item in node:
                walk(item, schema["items"])

    walk(out, openapi_schema())
    return out
