"""``spec.stage1.promotion`` and the spec's warnings on the real control plane: the API server
refuses what ``hypersearch validate`` refuses at the same field and fills in the same default;
the operator promotes by family when asked, names the policy in the status, and posts one
``SpecWarning`` event at admission for settings docs/benchmarks.md measured to be poor (none for
a spec without them)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypersearch.spec.schema import apply_defaults
from kubernetes import client

from tests.cluster import Cluster
from tests.engine.test_spec import doc
from tests.operator.conftest import create_search, events, tiny_search, trials, wait_phase
from tests.operator.test_schema_parity import assert_both_refuse, server_create
from tests.spec.test_promotion_spec import FAMILY_SPACE, PROMOTION_SCHEMA_VIOLATIONS


@pytest.mark.parametrize(("change", "path"), PROMOTION_SCHEMA_VIOLATIONS)
def test_the_server_refuses_a_bad_promotion_at_the_same_field(
    k8s: client.ApiClient, namespace: str, crds: None, change: dict[str, Any], path: str
) -> None:
    assert_both_refuse(k8s, namespace, doc(parameters=FAMILY_SPACE, **change), path)


def test_the_server_defaults_promotion_as_the_local_schema(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    for promotion in (None, {"name": "family", "familyParameter": "arch", "perFamily": 2}):
        body = doc(parameters=FAMILY_SPACE, stage1={"promotion": promotion} if promotion else {})
        created = server_create(k8s, namespace, copy.deepcopy(body))
        assert created["spec"] == apply_defaults(body)["spec"]
        assert created["spec"]["stage1"]["promotion"] == (promotion or {"name": "rank"})


def family_search(name: str) -> dict[str, Any]:
    """tiny_search over two model families (the trainer's ``model`` from the configuration),
    promoted by family: measured poor at a 50% sample, so warned about."""
    body = tiny_search(name)
    spec = body["spec"]
    spec["parameters"].append({"name": "model", "type": "categorical", "values": ["lr", "fm"]})
    container = spec["trialTemplate"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "HS_PARAM_model"]
    spec["stage1"]["promotion"] = {"name": "family"}
    spec["stage2"] = {"topK": 2}
    return body


def test_the_operator_promotes_by_family_and_warns_once_at_admission(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    create_search(k8s, namespace, tiny_search("plain"))
    create_search(k8s, namespace, family_search("families"))
    search = wait_phase(cluster, k8s, namespace, "families", ("Succeeded", "Failed", "Invalid"))
    status = search["status"]
    assert status["phase"] == "Succeeded", status.get("reason")
    assert status["promotion"] == "family (model, 1 per family)"
    stage1 = [
        t for t in trials(k8s, namespace)
        if t["spec"]["search"] == "families" and t["spec"]["stage"] == 1
    ]  # fmt: skip
    assert {t["spec"]["params"]["model"] for t in stage1} == {"lr", "fm"}, stage1
    # Both families reach stage 2 (plain rank may send two of one).
    assert {w["params"]["model"] for w in status["winners"]} == {"lr", "fm"}, status["winners"]

    posted = events(k8s, namespace, "families")
    warnings = [m for t, r, m in posted if r == "SpecWarning"]
    assert len(warnings) == 1, posted
    assert [t for t, r, _ in posted if r == "SpecWarning"] == ["Warning"]
    assert "(spec.stage1.promotion.name)" in warnings[0], warnings[0]
    assert "0.199% and 0.684%" in warnings[0] and "docs/benchmarks.md" in warnings[0]

    # The plain search was admitted (its Started event) without a warning.
    wait_phase(cluster, k8s, namespace, "plain", ("Running", "Succeeded", "Failed"))
    reasons = [r for _, r, _ in events(k8s, namespace, "plain")]
    assert "Started" in reasons and "SpecWarning" not in reasons, reasons
