"""The operator's own checks of what a search may ask of the cluster (no cluster needed): the
admission rules on templates and on the final objects, the size limits, the scrape URL and the
bounds on what a trainer may report. The same attacks run against the API server's policy in
``test_security.py``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.engine.observations import MAX_STRATA
from hypersearch.kube.resources import trial_pod, workload
from hypersearch.scrape import MAX_SAMPLES, ScrapeError, metrics_url, parse_report
from hypersearch.spec import check, parse
from hypersearch.spec.safety import Admission, object_errors, safety_errors

from tests.operator.conftest import tiny_search


def spec_with(**changes: Any) -> dict[str, Any]:
    return tiny_search("s", **changes)


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["trialTemplate"]["spec"]
    return spec


def unsafe(doc: dict[str, Any], admission: Admission | None = None) -> list[str]:
    return [e.path for e in safety_errors(parse(doc), admission or Admission())]


def test_a_plain_search_is_safe() -> None:
    assert unsafe(spec_with()) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"serviceAccountName": "hypersearch-operator"}, "serviceAccountName"),
        ({"serviceAccount": "hypersearch-operator"}, "serviceAccount"),
        ({"hostNetwork": True}, "hostNetwork"),
        ({"hostPID": True}, "hostPID"),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, "volumes[0].hostPath"),
    ],
)
def test_pod_level_attacks_name_their_field(change: dict[str, Any], field: str) -> None:
    doc = spec_with()
    pod_spec(doc).update(change)
    assert unsafe(doc) == [f"spec.trialTemplate.spec.{field}"]


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"privileged": True}, "privileged"),
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation"),
        ({"capabilities": {"add": ["SYS_ADMIN"]}}, "capabilities.add"),
    ],
)
def test_container_attacks_name_their_field(context: dict[str, Any], field: str) -> None:
    doc = spec_with()
    pod_spec(doc)["containers"][0]["securityContext"] = context
    assert unsafe(doc) == [f"spec.trialTemplate.spec.containers[0].securityContext.{field}"]
    pod_spec(doc)["initContainers"] = [copy.deepcopy(pod_spec(doc)["containers"][0])]
    assert len(unsafe(doc)) == 2


def test_harmless_settings_pass() -> None:
    doc = spec_with()
    pod_spec(doc)["serviceAccountName"] = "default"
    pod_spec(doc)["hostNetwork"] = False
    pod_spec(doc)["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
    }
    assert unsafe(doc) == []


def test_the_namespace_annotation_allows_more_service_accounts() -> None:
    doc = spec_with()
    pod_spec(doc)["serviceAccountName"] = "trainer"
    ns = {"metadata": {"annotations": {"hypersearch.dev/service-accounts": "default, trainer"}}}
    admission = Admission.for_namespace(ns, frozenset({"batch/v1/Job"}))
    assert unsafe(doc, admission) == []
    assert unsafe(doc, Admission.for_namespace({}, frozenset({"batch/v1/Job"}))) == [
        "spec.trialTemplate.spec.serviceAccountName"
    ]


def test_stage2_kinds_need_the_administrators_allow_list() -> None:
    doc = spec_with(stage2={"topK": 1, "workload": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                     "template": {"replicas": 1}}})  # fmt: skip
    assert unsafe(doc) == ["spec.stage2.workload.kind"]
    allowed = Admission(workload_kinds=frozenset({"batch/v1/Job", "apps/v1/Deployment"}))
    assert unsafe(doc, allowed) == []


def test_pod_templates_inside_a_workload_are_checked_too() -> None:
    replica = {"template": {"spec": {"containers": [{"name": "t", "image": "x"}],
                                     "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}}  # fmt: skip
    doc = spec_with(stage2={"topK": 1, "workload": {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "template": {"pytorchReplicaSpecs": {"Master": replica}}}})  # fmt: skip
    allowed = Admission(workload_kinds=frozenset({"kubeflow.org/v1/PyTorchJob"}))
    assert unsafe(doc, allowed) == [
        "spec.stage2.workload.template.pytorchReplicaSpecs.Master.template.spec.volumes[0].hostPath"
    ]


def test_a_parameter_value_cannot_smuggle_a_service_account_into_a_workload() -> None:
    """A custom workload's template gets ``{{params.X}}`` substituted in every string: the
    policy sees the placeholder (refused), the operator checks the object it would create."""
    template = {"template": {"spec": {"serviceAccountName": "{{params.sa}}",
                                      "containers": [{"name": "t", "image": "x"}]}}}  # fmt: skip
    doc = spec_with(
        parameters=[{"name": "sa", "type": "categorical", "values": ["hypersearch-operator"]}],
        stage2={"topK": 1, "workload": {"apiVersion": "example.dev/v1", "kind": "Trainer",
                                        "template": template}},
    )  # fmt: skip
    admission = Admission(workload_kinds=frozenset({"example.dev/v1/Trainer"}))
    assert unsafe(doc, admission) == [
        "spec.stage2.workload.template.template.spec.serviceAccountName"
    ]
    spec = parse(doc)
    start = Search(spec).step()[0]
    assert isinstance(start, StartTrial)
    obj = {**json.loads(json.dumps(doc)), "metadata": {"name": "s", "namespace": "n", "uid": "u"}}
    body = workload(spec, obj, start)
    assert body["spec"]["template"]["spec"]["serviceAccountName"] == "hypersearch-operator"
    assert [e.path for e in object_errors(body, admission)] == [
        "Trainer.spec.template.spec.serviceAccountName"
    ]
    pod = trial_pod(spec, obj, start)
    assert object_errors(pod, admission) == []
    pod["spec"]["hostPID"] = True
    assert [e.path for e in object_errors(pod, admission)] == ["Pod.spec.hostPID"]


# ----------------------------------------------------------------- size limits


def errors_of(doc: dict[str, Any]) -> list[str]:
    return [e.path for e in check(doc)[1]]


def test_limits_refuse_a_search_too_large_for_the_operator() -> None:
    doc = spec_with(trials=10_000, stream={"windows": 10_000})
    assert "spec.trials" in errors_of(doc)
    huge = spec_with(trials=1_000_000, stream={"windows": 10_000})
    assert "spec.trials" in errors_of(huge)  # over the CRD maximum as well
    assert errors_of(spec_with(trials=1000, stream={"windows": 365})) == []


def test_limits_refuse_long_names_and_fine_grid_steps() -> None:
    doc = spec_with()
    doc["metadata"]["name"] = "n" * 53
    assert errors_of(doc) == ["metadata.name"]
    doc["metadata"]["name"] = "n" * 52
    assert errors_of(doc) == []
    grid = spec_with(parameters=[{"name": "lr", "type": "double", "min": 0, "max": 1,
                                  "step": 1e-9}])  # fmt: skip
    assert errors_of(grid) == ["spec.parameters[0].step"]


def test_metrics_path_must_be_a_plain_absolute_path() -> None:
    for bad in ("@127.0.0.1:1/x", "metrics", "/m?x=1", "/m#f", "/a b"):
        doc = spec_with(metrics={"path": bad})
        assert "spec.metrics.path" in errors_of(doc), bad
    assert errors_of(spec_with(metrics={"path": "/v1/metrics"})) == []


# ----------------------------------------------------------------- scraping


def test_scrape_url_is_built_from_parts_and_points_at_the_pod() -> None:
    assert metrics_url("10.1.2.3", 9100, "/metrics") == "http://10.1.2.3:9100/metrics"
    assert metrics_url("fd00::17", 9100, "/metrics") == "http://[fd00::17]:9100/metrics"
    for ip, path in [("10.1.2.3", "@169.254.169.254/latest"), ("10.1.2.3@evil", "/m"),
                     ("evil.example", "/m"), ("10.1.2.3", "/m?q")]:  # fmt: skip
        with pytest.raises(ScrapeError):
            metrics_url(ip, 9100, path)


def test_a_parse_error_never_quotes_the_body() -> None:
    spec = parse(spec_with())
    with pytest.raises(ScrapeError) as info:
        parse_report("secret-token-abc123 {{{\n", spec.metrics, "logloss")
    assert "secret" not in str(info.value)


def test_too_many_samples_fail_the_trial_at_once() -> None:
    spec = parse(spec_with())
    lines = [f'x{{i="{i}"}} 1' for i in range(MAX_SAMPLES + 1)]
    with pytest.raises(ScrapeError) as info:
        parse_report("\n".join(lines) + "\n", spec.metrics, "logloss")
    assert info.value.terminal


def test_a_search_keeps_a_bounded_number_of_strata() -> None:
    search = Search(parse(spec_with()))
    start = search.step()[0]
    assert isinstance(start, StartTrial)
    strata = {f"s{i}": (0.5, 1.0) for i in range(MAX_STRATA + 1)}
    report = TrialReport(1.0, 10.0, {0: WindowStat(0.5, 10.0, strata)})
    search.observe(start.trial, report)
    trial = search.trials[start.trial]
    assert trial.state.value == "Failed"
    assert "distinct strata" in trial.reason
