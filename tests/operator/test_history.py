"""``spec.stage1.history`` in the operator, on the real control plane: a finished HyperSearch of
the same namespace is read (as ``hypersearch report --cluster`` rebuilds it) and used at
promotion, named in the status; at admission an earlier search that does not exist, has another
parameter space, or is a ``results`` path is refused with the Invalid condition naming the
entry; one deleted before promotion gets a Warning event and the search goes on without it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypersearch.spec.schema import apply_defaults
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    GROUP,
    VERSION,
    create_search,
    events,
    get_search,
    tiny_search,
    wait_phase,
    wait_until,
)
from tests.operator.test_schema_parity import assert_both_refuse, server_create
from tests.spec.test_history_spec import (
    HISTORY_CEL_VIOLATIONS,
    HISTORY_SCHEMA_VIOLATIONS,
    history_doc,
)

FINAL = ("Succeeded", "Failed", "Invalid")
AT = "spec.stage1.history.searches"


@pytest.mark.parametrize(("history", "path"), HISTORY_SCHEMA_VIOLATIONS + HISTORY_CEL_VIOLATIONS)
def test_the_server_refuses_a_bad_history_at_the_same_field(
    k8s: client.ApiClient, namespace: str, crds: None, history: dict[str, Any], path: str
) -> None:
    assert_both_refuse(k8s, namespace, history_doc(history), path)


def test_the_server_defaults_history_as_the_local_schema(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    for history in ({}, {"policy": "residual", "searches": [{"name": "a"}, {"results": "r/"}]}):
        body = history_doc(history)
        created = server_create(k8s, namespace, copy.deepcopy(body))
        assert created["spec"] == apply_defaults(body)["spec"]
        assert created["spec"]["stage1"]["history"] == (history or {"policy": "none"})


def search(name: str, history: list[dict[str, Any]] | None = None, **changes: Any) -> Any:
    doc = tiny_search(name, trials=3, **changes)
    doc["spec"]["stage1"]["stopping"] = {"rule": "none"}
    if history is not None:
        doc["spec"]["stage1"]["history"] = {"policy": "residual", "searches": history}
    return doc


def test_earlier_searches_are_checked_at_admission_and_read_again_at_promotion(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator = operator_factory()
    create_search(k8s, namespace, search("earlier"))
    assert wait_phase(cluster, k8s, namespace, "earlier", FINAL)["status"]["phase"] == "Succeeded"

    # Refused at admission, each naming the entry (and nothing else of the spec is wrong).
    wider = [{"name": "lr", "type": "double", "min": 0.002, "max": 0.5, "scale": "log"}]
    refused = {
        "missing": (
            search("missing", [{"name": "earlier"}, {"name": "nowhere"}]),
            f"{AT}[1].name (nowhere): no HyperSearch named 'nowhere' in namespace {namespace}",
        ),
        "space": (
            search("space", [{"name": "earlier"}], parameters=wider),
            f"{AT}[0].name (earlier): parameter 'lr' has bounds [0.001, 0.5], this search "
            "[0.002, 0.5]",
        ),
        "path": (
            search("path", [{"results": "runs/earlier"}]),
            f"{AT}[0].results (runs/earlier): a path on your machine, for local runs only",
        ),
    }
    for doc, _ in refused.values():
        create_search(k8s, namespace, doc)
    for name, (_, says) in refused.items():
        status = wait_phase(cluster, k8s, namespace, name, FINAL)["status"]
        assert status["phase"] == "Invalid", (name, status.get("reason"))
        assert says in status["reason"], (name, status["reason"])
        (cond,) = [c for c in status["conditions"] if c["type"] == "Invalid"]
        assert cond["status"] == "True" and cond["reason"] == "SpecInvalid"
        assert says in cond["message"]

    # Used: read at admission and again at promotion; the status names it.
    create_search(k8s, namespace, search("later", [{"name": "earlier"}]))
    status = wait_phase(cluster, k8s, namespace, "later", FINAL)["status"]
    assert status["phase"] == "Succeeded", status.get("reason")
    used = status["history"]
    assert used["policy"] == "residual" and used["searches"] == ["earlier"], used
    assert "too little history" in used["reason"] and used["weight"] == 0.0, used
    assert status["engine"]["history"] == used

    # Deleted between admission and promotion: a Warning, and the search goes on without it.
    create_search(k8s, namespace, search("third", [{"name": "earlier"}], parallelism=1))
    wait_until(
        lambda: (get_search(k8s, namespace, "third").get("status") or {}).get("phase") == "Running",
        120,
        "the third search to be admitted",
    )
    client.CustomObjectsApi(k8s).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches", "earlier"
    )

    def gone() -> bool:
        try:
            get_search(k8s, namespace, "earlier")
        except client.ApiException as e:
            return e.status == 404
        return False

    wait_until(gone, 60, "the earlier search to be deleted")
    # Still in stage 1 (3 trials one at a time): promotion has not read history yet.
    assert get_search(k8s, namespace, "third")["status"]["stage"] == 1
    status = wait_phase(cluster, k8s, namespace, "third", FINAL)["status"]
    assert status["phase"] == "Succeeded", status.get("reason")
    assert status["history"]["searches"] == [], status["history"]
    warned = [e for e in events(k8s, namespace, "third") if e[1] == "HistoryMissing"]
    assert warned and "(earlier)" in warned[0][2] and warned[0][0] == "Warning", warned
    assert operator.proc.poll() is None
