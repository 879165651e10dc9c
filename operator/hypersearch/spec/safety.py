"""What a search may ask of the cluster: the operator's own copy of the admission policy.

Whoever may create a HyperSearch makes the operator create Pods and workloads for them, so the
rules a cluster administrator sets must hold for those children as if the creator had written
them. The API server enforces them first (the ValidatingAdmissionPolicy in
``manifests/admission/``, which also checks that the creator may create the children
themselves); the operator checks the same template rules again before creating anything
(defence in depth: a cluster without the policy, or a policy bound too narrowly). Pure: the
allow-lists come from the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypersearch.spec.errors import SpecError
from hypersearch.spec.model import SearchSpec

Obj = dict[str, Any]
# The namespace annotation that lists the ServiceAccounts trial pods may run as.
SERVICE_ACCOUNTS_ANNOTATION = "hypersearch.dev/service-accounts"
DEFAULT_SERVICE_ACCOUNTS = ("default",)
DEFAULT_WORKLOAD_KINDS = ("batch/v1/Job",)
# Capabilities a container may add (the Pod Security "restricted" profile's only one).
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Admission:
    """The administrator's allow-lists for one namespace."""

    service_accounts: frozenset[str] = field(default_factory=lambda: frozenset(["default"]))
    workload_kinds: frozenset[str] = field(default_factory=lambda: frozenset(["batch/v1/Job"]))

    @staticmethod
    def for_namespace(namespace: Obj | None, workload_kinds: frozenset[str]) -> Admission:
        """The allow-list a Namespace object's annotation gives (default: ``default`` only)."""
        annotations = ((namespace or {}).get("metadata") or {}).get("annotations") or {}
        raw = annotations.get(SERVICE_ACCOUNTS_ANNOTATION)
        names = [s.strip() for s in raw.split(",")] if raw else list(DEFAULT_SERVICE_ACCOUNTS)
        return Admission(frozenset(n for n in names if n), workload_kinds)


def kind_key(api_version: str, kind: str) -> str:
    """``batch/v1/Job``: how the allow-list names a workload kind."""
    return f"{api_version}/{kind}"


def pod_templates(value: Any, path: str) -> Iterator[tuple[str, Obj]]:
    """Every PodTemplateSpec (``{metadata, spec: {containers: [...]}}``) inside a workload's
    spec, with its field path: a Job's ``template``, each ``pytorchReplicaSpecs.*.template``..."""
    if isinstance(value, dict):
        inner = value.get("spec")
        containers = inner.get("containers") if isinstance(inner, dict) else None
        if isinstance(containers, list) and containers and isinstance(containers[0], dict):
            yield path, value
            return
        for k, v in value.items():
            yield from pod_templates(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from pod_templates(v, f"{path}[{i}]")


def _pod_spec_errors(pod_spec: Any, at: str, admission: Admission) -> list[SpecError]:
    if not isinstance(pod_spec, dict):
        return []
    errors: list[SpecError] = []
    allowed = ", ".join(sorted(admission.service_accounts)) or "none"
    for key in ("serviceAccountName", "serviceAccount"):
        account = pod_spec.get(key)
        if account is not None and account not in admission.service_accounts:
            errors.append(
                SpecError(
                    f"{at}.{key}",
                    f"ServiceAccount {account!r} is not allowed for searches in this namespace "
                    f"(allowed: {allowed}; an administrator lists them in the namespace "
                    f"annotation {SERVICE_ACCOUNTS_ANNOTATION})",
                )
            )
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key) is True:
            errors.append(SpecError(f"{at}.{key}", "host namespaces are not allowed"))
    for i, volume in enumerate(pod_spec.get("volumes") or []):
        if isinstance(volume, dict) and "hostPath" in volume:
            errors.append(
                SpecError(f"{at}.volumes[{i}].hostPath", "hostPath volumes are not allowed")
            )
    for group in _CONTAINER_LISTS:
        for i, c in enumerate(pod_spec.get(group) or []):
            if not isinstance(c, dict):
                continue
            sc = c.get("securityContext") or {}
            where = f"{at}.{group}[{i}].securityContext"
            if sc.get("privileged") is True:
                errors.append(
                    SpecError(f"{where}.privileged", "privileged containers are not allowed")
                )
            if sc.get("allowPrivilegeEscalation") is True:
                errors.append(
                    SpecError(
                        f"{where}.allowPrivilegeEscalation", "privilege escalation is not allowed"
                    )
                )
            added = set((sc.get("capabilities") or {}).get("add") or []) - ALLOWED_CAPABILITIES
            if added:
                errors.append(
                    SpecError(
                        f"{where}.capabilities.add",
                        f"adding {', '.join(sorted(map(str, added)))} is not allowed "
                        f"(only NET_BIND_SERVICE)",
                    )
                )
    return errors


def safety_errors(spec: SearchSpec, admission: Admission) -> list[SpecError]:
    """Everything in the spec the administrator's rules refuse, each naming its field."""
    errors = _pod_spec_errors(
        (spec.trial_template or {}).get("spec"), "spec.trialTemplate.spec", admission
    )
    w = spec.workload
    key = kind_key(w.api_version, w.kind)
    if key not in admission.workload_kinds:
        errors.append(
            SpecError(
                "spec.stage2.workload.kind",
                f"{key} is not an allowed full-training kind (allowed: "
                f"{', '.join(sorted(admission.workload_kinds))}; an administrator adds kinds "
                f"with the operator's --workload-kind and the admission policy)",
            )
        )
    for path, template in pod_templates(w.template or {}, "spec.stage2.workload.template"):
        errors += _pod_spec_errors(template.get("spec"), f"{path}.spec", admission)
    return errors


__all__ = [
    "DEFAULT_SERVICE_ACCOUNTS",
    "DEFAULT_WORKLOAD_KINDS",
    "SERVICE_ACCOUNTS_ANNOTATION",
    "Admission",
    "kind_key",
    "object_errors",
    "pod_templates",
    "safety_errors",
]


def object_errors(body: Obj, admission: Admission) -> list[SpecError]:
    """The same rules on a child the operator is about to create (after ``{{params.X}}`` was
    substituted, so a parameter value cannot smuggle in what the template could not)."""
    kind = body.get("kind", "object")
    if kind == "Pod" and body.get("apiVersion") == "v1":
        return _pod_spec_errors(body.get("spec"), f"{kind}.spec", admission)
    errors: list[SpecError] = []
    for path, template in pod_templates(body.get("spec") or {}, f"{kind}.spec"):
        errors += _pod_spec_errors(template.get("spec"), f"{path}.spec", admission)
    return errors
