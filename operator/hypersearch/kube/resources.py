"""Bodies of the children a search creates: Trial resources, trial Pods, stage-2 workloads.

Pure functions of the search object and the engine's StartTrial, so a restarted operator
builds byte-identical objects under identical (deterministic) names.
"""

from __future__ import annotations

import copy
from typing import Any

from hypersearch.engine import StartTrial
from hypersearch.kube import names
from hypersearch.monitor.protocol import TemplateError, executor_env, substitute
from hypersearch.spec.model import ParamValue, SearchSpec
from hypersearch.spec.safety import pod_templates

Obj = dict[str, Any]
# Retries of a full-training pod that failed for reasons other than its own exit code.
JOB_BACKOFF_LIMIT = 3


def owner_reference(search: Obj) -> Obj:
    meta = search["metadata"]
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.SEARCH_KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(search: str, trial: str, stage: int) -> dict[str, str]:
    return {
        names.LABEL_SEARCH: search,
        names.LABEL_TRIAL: trial,
        names.LABEL_STAGE: str(stage),
        names.LABEL_MANAGED: names.MANAGER,
    }


def params_text(params: dict[str, ParamValue]) -> str:
    """``lr=0.0123 dim=8`` for the printer column."""

    def short(v: ParamValue) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return " ".join(f"{k}={short(v)}" for k, v in params.items())


def trial_resource(search: Obj, start: StartTrial, source: int | None) -> Obj:
    """The Trial custom resource; its spec alone is enough to rebuild a fresh engine record."""
    name = search["metadata"]["name"]
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.TRIAL_KIND,
        "metadata": {
            "name": start.name,
            "labels": labels(name, start.name, start.stage),
            "ownerReferences": [owner_reference(search)],
        },
        "spec": {
            "search": name,
            "id": start.trial,
            "stage": start.stage,
            "source": source,
            "params": dict(start.params),
            "paramsText": params_text(start.params),
            "data": start.data.to_dict(),
        },
    }


def _executor_env(spec: SearchSpec, namespace: str, start: StartTrial) -> list[Obj]:
    env: list[Obj] = [{"name": k, "value": v} for k, v in start.env.items()]
    here = f"/tmp/hypersearch/{namespace}/{start.name}"
    ours = executor_env(
        spec.metrics.port,
        f"{here}/checkpoint",
        f"{here}/result.json",
        spec.metrics.interval_seconds,
    )
    env += [{"name": k, "value": v} for k, v in ours.items()]
    # The metrics host is the pod's own IP (the only address the operator scrapes).
    env.append(
        {"name": "HS_METRICS_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    )
    return env


def _decorate(template: Obj, spec: SearchSpec, search: Obj, start: StartTrial) -> None:
    """Give a PodTemplateSpec our labels, and its first container our env and substituted args."""
    meta = template.setdefault("metadata", {})
    meta.setdefault("labels", {}).update(
        labels(search["metadata"]["name"], start.name, start.stage)
    )
    first = template["spec"]["containers"][0]
    first["args"] = [substitute(str(a), start.trainer_params) for a in first.get("args") or []]
    ours = _executor_env(spec, search["metadata"]["namespace"], start)
    taken = {e["name"] for e in ours}
    user = [e for e in first.get("env") or [] if e.get("name") not in taken]
    # The template's own values may refer to params; ours win on a clash (the protocol).
    for e in user:
        if "value" in e:
            e["value"] = substitute(str(e["value"]), start.trainer_params)
    first["env"] = user + ours


def pod_template(spec: SearchSpec, search: Obj, start: StartTrial) -> Obj:
    """The trial template with labels, HS_* env and substituted args (a PodTemplateSpec)."""
    template = copy.deepcopy(spec.trial_template)
    pod_spec = template.setdefault("spec", {})
    containers = pod_spec.get("containers") or []
    if not containers or not isinstance(containers[0], dict):
        raise TemplateError("spec.trialTemplate.spec.containers[0] is missing")
    _decorate(template, spec, search, start)
    pod_spec.setdefault("restartPolicy", "Never")
    return template


def trial_pod(spec: SearchSpec, search: Obj, start: StartTrial) -> Obj:
    """A stage-1 trial Pod named after its trial."""
    template = pod_template(spec, search, start)
    meta = template.get("metadata", {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": start.name,
            "labels": meta.get("labels", {}),
            "annotations": meta.get("annotations", {}),
            "ownerReferences": [owner_reference(search)],
        },
        "spec": template["spec"],
    }


def workload(spec: SearchSpec, search: Obj, start: StartTrial) -> Obj:
    """The stage-2 full-training workload: a batch/v1 Job by default, else the spec's kind.

    A custom kind's ``template`` is its ``spec`` with ``{{params.NAME}}`` substituted in every
    string; every pod template found inside gets the trial's labels (so its pods are scraped)
    and the control-protocol env in its first container.
    """
    w = spec.workload
    meta = {
        "name": start.name,
        "labels": labels(search["metadata"]["name"], start.name, start.stage),
        "ownerReferences": [owner_reference(search)],
    }
    if (w.api_version, w.kind) == ("batch/v1", "Job") and not w.template:
        template = pod_template(spec, search, start)
        template["spec"]["restartPolicy"] = "Never"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {
                # A node lost under a winner (hours of training) must not fail it: pods the
                # cluster disrupted are retried without counting; the trainer's own non-zero
                # exit fails the Job at once; other pod failures (e.g. an eviction for memory)
                # get a few retries, which resume from the trainer's checkpoint.
                "backoffLimit": JOB_BACKOFF_LIMIT,
                "podFailurePolicy": {
                    "rules": [
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}},
                    ]
                },
                "template": template,
            },
        }
    body = _substitute_all(copy.deepcopy(w.template or {}), start.trainer_params)
    found = [t for _, t in pod_templates(body, "spec")]
    if (w.api_version, w.kind) == ("batch/v1", "Job") and not found:
        # A Job template without containers runs the trial template's, keeping its own pod
        # settings (node selector, tolerations...).
        pod = body.setdefault("template", {})
        merged = pod_template(spec, search, start)
        pod.setdefault("metadata", {}).setdefault("labels", {}).update(merged["metadata"]["labels"])
        pod["spec"] = {**merged["spec"], **(pod.get("spec") or {})}
    for template in found:  # every replica's pods can be found, scraped and configured
        _decorate(template, spec, search, start)
    return {"apiVersion": w.api_version, "kind": w.kind, "metadata": meta, "spec": body}


def _substitute_all(value: Any, params: dict[str, ParamValue]) -> Any:
    if isinstance(value, str):
        return substitute(value, params)
    if isinstance(value, list):
        return [_substitute_all(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_all(v, params) for k, v in value.items()}
    return value


__all__ = [
    "TemplateError",
    "labels",
    "owner_reference",
    "params_text",
    "pod_template",
    "trial_pod",
    "trial_resource",
    "workload",
]
