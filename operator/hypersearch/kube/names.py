"""API coordinates, label keys and deterministic child names shared by the operator's modules."""

from __future__ import annotations

GROUP = "hypersearch.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
SEARCH_PLURAL = "hypersearches"
SEARCH_KIND = "HyperSearch"
TRIAL_PLURAL = "trials"
TRIAL_KIND = "Trial"

LABEL_SEARCH = f"{GROUP}/search"
LABEL_TRIAL = f"{GROUP}/trial"
LABEL_STAGE = f"{GROUP}/stage"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
MANAGER = "hypersearch-operator"
FIELD_MANAGER = "hypersearch-operator"


def search_selector(search: str) -> str:
    """Label selector of every child (Trials, Pods, Jobs) of one search."""
    return f"{LABEL_SEARCH}={search}"
