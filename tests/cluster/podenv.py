"""Builds a container's environment and argv from a pod spec, as the kubelet would.

Covers env, envFrom, the downward API (fieldRef, resourceFieldRef), ConfigMap and Secret
references and $(VAR) expansion in values, command and args. Pure functions over the pod as
a dict; the caller passes a lookup for ConfigMaps and Secrets.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

Obj = dict[str, Any]
# (kind "configmap" | "secret", namespace, name) -> data as str -> str, or None when absent.
Lookup = Callable[[str, str, str], dict[str, str] | None]


class EnvError(RuntimeError):
    """The environment cannot be built (e.g. a referenced ConfigMap key is missing)."""


_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity ("500m", "2Gi", "1e3") as a number."""
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)", str(text).strip())
    if not m or (m.group(2) and m.group(2) not in _SUFFIXES):
        raise EnvError(f"bad quantity {text!r}")
    return Decimal(m.group(1)) * Decimal(_SUFFIXES.get(m.group(2), 1))


def expand(text: str, env: Mapping[str, str]) -> str:
    """$(VAR) expansion: known names are replaced, unknown ones kept, $$ escapes."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", repl, text)


def field_value(pod: Obj, path: str) -> str:
    """The downward-API value of a fieldRef.fieldPath."""
    meta = pod.get("metadata", {})
    status = pod.get("status", {})
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return str(meta.get(m.group(1), {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": pod.get("spec", {}).get("nodeName"),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs", [])),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs", [])),
    }
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1], {})
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    if path not in simple:
        raise EnvError(f"unsupported fieldRef {path!r}")
    return str(simple[path] or "")


def resource_value(container: Obj, ref: Obj, node_allocatable: Mapping[str, str]) -> str:
    """A resourceFieldRef value: limit (or request), else node allocatable, over the divisor."""
    kind, _, resource = ref["resource"].partition(".")
    resources = container.get("resources", {})
    raw = resources.get(kind, {}).get(resource)
    if raw is None and kind == "limits":
        raw = node_allocatable.get(resource, "0")
    if raw is None:
        raw = "0"
    divisor = parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(parse_quantity(raw) / divisor))


def _source(lookup: Lookup, kind: str, ns: str, name: str, optional: bool) -> dict[str, str]:
    data = lookup(kind, ns, name)
    if data is None:
        if optional:
            return {}
        raise EnvError(f"{kind} {ns}/{name} not found")
    return data


def container_env(
    pod: Obj,
    container: Obj,
    *,
    base: Mapping[str, str],
    lookup: Lookup,
    node_allocatable: Mapping[str, str],
) -> dict[str, str]:
    """base, then envFrom, then env (each value may use $(VAR) of those before it)."""
    ns = pod["metadata"]["namespace"]
    env = dict(base)
    for src in container.get("envFrom", []):
        prefix = src.get("prefix", "")
        for key, ref in (("configMapRef", "configmap"), ("secretRef", "secret")):
            if key in src:
                data = _source(lookup, ref, ns, src[key]["name"], src[key].get("optional", False))
                env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env", []):
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        vf = var["valueFrom"]
        if "fieldRef" in vf:
            env[name] = field_value(pod, vf["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in vf:
            env[name] = resource_value(container, vf["resourceFieldRef"], node_allocatable)
        else:
            key, kind = (
                ("configMapKeyRef", "configmap")
                if "configMapKeyRef" in vf
                else ("secretKeyRef", "secret")
            )
            ref = vf[key]
            data = _source(lookup, kind, ns, ref["name"], ref.get("optional", False))
            if ref["key"] in data:
                env[name] = data[ref["key"]]
            elif not ref.get("optional", False):
                raise EnvError(f"{kind} {ns}/{ref['name']} has no key {ref['key']!r}")
    return env


def container_argv(
    container: Obj, env: Mapping[str, str], entrypoints: Mapping[str, str]
) -> list[str]:
    """command + args with $(VAR) expanded; the image's entrypoint comes from `entrypoints`."""
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if not command:
        entry = entrypoints.get(container.get("image", ""))
        command = entry.split() if entry else []
    argv = [expand(a, env) for a in command + args]
    if not argv:
        raise EnvError(f"container {container['name']!r} has no command (images are not run)")
    return argv


def decode_secret(data: Mapping[str, Any] | None) -> dict[str, str]:
    """Secret .data is base64; env values are the decoded text."""
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in (data or {}).items()}
