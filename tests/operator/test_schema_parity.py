"""One schema in both places: what ``hypersearch validate`` rejects locally, a real API server
with the CRDs of ``manifests/crds/`` rejects too, at the same field, and both fill in the same
defaults. (The packaged copy of the CRD is compared with ``manifests/`` in
tests/engine/test_spec.py.) And the Trial CRD keeps every status field the operator writes:
a field its schema lacks is pruned by the API server without an error."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import pytest
from hypersearch.engine.actions import StartTrial
from hypersearch.engine.observations import WindowStat
from hypersearch.engine.trial import Trial, TrialState
from hypersearch.kube import names
from hypersearch.kube.api import Kube
from hypersearch.kube.resources import trial_resource
from hypersearch.kube.state import sumcount_states, trial_status
from hypersearch.kube.status import StatusWriter
from hypersearch.kube.usage import PodUse
from hypersearch.replay import replay
from hypersearch.report.files import finite_document
from hypersearch.scrape import SumCountState
from hypersearch.spec import check
from hypersearch.spec.model import DataRange
from hypersearch.spec.schema import apply_defaults
from kubernetes import client

from tests.engine.synthetic import make_world, search_spec
from tests.engine.test_spec import MINIMAL, SCHEMA_VIOLATIONS, doc
from tests.operator.conftest import GROUP, VERSION, create_search, custom


def server_create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body`` as a dry run with strict field validation (unknown fields are errors)."""
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches", body, dry_run="All", field_validation="Strict"
    )
    return created


def assert_both_refuse(
    api: client.ApiClient, namespace: str, body: dict[str, Any], path: str
) -> None:
    """``hypersearch validate`` and the API server both refuse ``body``, naming ``path``."""
    assert path in {e.path for e in check(body)[1]}
    with pytest.raises(client.ApiException) as info:
        server_create(api, namespace, body)
    # 422 for a schema violation; 400 for an unknown field under strict field validation.
    assert info.value.status in (400, 422), info.value.body
    assert path in str(info.value.body), info.value.body


def test_the_server_fills_in_the_same_defaults_as_the_local_schema(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    created = server_create(k8s, namespace, copy.deepcopy(MINIMAL))
    local = apply_defaults(MINIMAL)
    assert created["spec"] == local["spec"]
    _, errors = check(MINIMAL)
    assert errors == []


@pytest.mark.parametrize(("change", "path"), SCHEMA_VIOLATIONS)
def test_the_server_rejects_what_the_local_schema_rejects(
    k8s: client.ApiClient, namespace: str, crds: None, change: dict[str, Any], path: str
) -> None:
    assert_both_refuse(k8s, namespace, doc(**change), path)


def merged(value: Any) -> Any:
    """What a JSON merge patch leaves of ``value`` in an empty object: null deletes a key."""
    if isinstance(value, dict):
        return {k: merged(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [merged(v) for v in value]
    return value


def test_every_trial_status_field_the_operator_writes_survives_the_api_server(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    """A failed ``sumcount`` trial (condition, pod ledger, counter state with pending and
    empty windows, strata) written by the operator's own StatusWriter reads back unchanged, and
    its counter state restores exactly; a non-finite figure is named under ``nonFinite``, which
    the next finite write clears, as it clears a stale ``empty``."""
    search = create_search(k8s, namespace, copy.deepcopy(MINIMAL))
    strata = {"a": (0.4, 60.0), "b": (0.65, 40.0)}
    trial = Trial(
        id=0, name="mini-000", stage=1, params={"lr": 0.01, "optimizer": "adam"},
        data=DataRange(0, 30, rate=0.5), state=TrialState.FAILED,
        reason="ProgressDeadlineExceeded: no progress for 600 s (stuck at window 9)",
        position=9.5, examples=950.0, next_check=1, predicted=0.613, predicted_std=0.021,
        windows={w: WindowStat(0.5 + w / 100, 100.0, strata) for w in range(9)}, empty={3},
        cpu_seconds=12.5, gpu_seconds=None, compute_source="trainer",
    )  # fmt: skip
    start = StartTrial(trial.id, trial.name, 1, dict(trial.params), trial.data)
    custom(k8s).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "trials", trial_resource(search, start, None)
    )
    ledger = {"uid-1": PodUse(cpu=1.0, gpu=0.0, created=1.7e9, started=1.7e9 + 4, ended=None)}
    state = SumCountState(
        boundary=12,
        sums={"all": 7.25, "a": 4.0, "b": 3.25},
        counts={"all": 1200.0, "a": 700.0, "b": 500.0},
        windows={w: WindowStat(0.55, 100.0, strata) for w in (10, 11)},
        empty={9},
    )
    writer = StatusWriter(Kube(k8s), namespace, "mini", progress_seconds=0)

    async def recreate() -> bool:
        raise AssertionError("the Trial exists")

    def write_and_read() -> tuple[dict[str, Any], dict[str, Any]]:
        saved = state.to_dict(trial.windows.keys())
        sent = finite_document(trial_status(trial, ledger, saved))  # what patch_status sends
        asyncio.run(writer.trial(trial, ledger, recreate, force=True, sumcount=saved))
        got: dict[str, Any] = custom(k8s).get_namespaced_custom_object(
            GROUP, VERSION, namespace, names.TRIAL_PLURAL, trial.name
        )
        return got, merged(json.loads(json.dumps(sent)))

    trial.predicted_std = float("inf")  # e.g. from a metric of 1e308
    got, sent = write_and_read()
    assert got["status"] == sent
    assert "sumcount" in got["status"] and got["status"]["sumcount"]["empty"] == [[9, 10]]
    assert got["status"]["nonFinite"]["fields"] == ["predictedStd", "record.predictedStd"]
    assert got["status"]["conditions"][0]["type"] == "Failed"

    trial.predicted_std, state.empty = 0.021, set()
    got, sent = write_and_read()
    assert got["status"] == sent
    assert "nonFinite" not in got["status"] and "empty" not in got["status"]["sumcount"]
    restored = sumcount_states([got])[trial.id]
    assert (restored.boundary, restored.sums, restored.counts) == (12, state.sums, state.counts)
    assert restored.windows == state.windows and restored.empty == set()


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
QUOTED = re.compile(r": predicted \S+ (-?\d+\.\d{4}) \(")  # in a performance stop reason


def table(api: client.ApiClient, path: str) -> dict[str, Any]:
    """The API server's Table of a list (what ``kubectl get`` prints)."""
    request = api.param_serialize(
        "GET", path, header_params={"Accept": TABLE}, auth_settings=["BearerToken"]
    )
    response = api.call_api(*request)
    assert response.status == 200, response.read()
    out: dict[str, Any] = json.loads(response.read())
    return out


def test_the_predicted_column_shows_the_prediction_a_stop_reason_quotes(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    """A stopped trial's PREDICTED is the prediction made at its rung, which its reason quotes,
    although the search re-predicted it from all its windows at the end of stage 1; every
    column of both kinds says what it means."""
    spec = search_spec(9, 30, stage1={"data": {"rate": 0.2}}, stage2={"topK": 1})
    search = replay(spec, make_world(9, 30, seed=4).curves).search
    stage1 = [t for t in search.trials if t.stage == 1]
    stopped = [t for t in stage1 if t.state is TrialState.STOPPED]
    quoted = {t.name: float(QUOTED.search(t.reason).group(1)) for t in stopped}  # type: ignore[union-attr]
    # Re-predicted after the stop: the latest prediction differs from the quoted one.
    assert any(round(t.predicted or 0.0, 4) != quoted[t.name] for t in stopped), quoted
    owner = create_search(k8s, namespace, doc(metadata={"name": spec.name}))
    writer = StatusWriter(Kube(k8s), namespace, spec.name, progress_seconds=0)

    async def recreate() -> bool:
        raise AssertionError("the Trial exists")

    for t in stage1:
        start = StartTrial(t.id, t.name, 1, dict(t.params), t.data)
        custom(k8s).create_namespaced_custom_object(
            GROUP, VERSION, namespace, names.TRIAL_PLURAL, trial_resource(owner, start, None)
        )
        asyncio.run(writer.trial(t, None, recreate, force=True))

    got = table(k8s, f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{names.TRIAL_PLURAL}")
    columns = [c["name"] for c in got["columnDefinitions"]]
    rows = {r["cells"][0]: dict(zip(columns, r["cells"], strict=True)) for r in got["rows"]}
    for t in stage1:
        cell = rows[t.name]["Predicted"]
        if t.state is TrialState.STOPPED:
            # The reason quotes it to 4 decimals, the column to 6.
            assert abs(cell - quoted[t.name]) <= 5.001e-5, (t.name, cell, t.reason)
            assert cell == round(t.decision_predicted or 0.0, 6), (t.name, cell)
        else:
            assert cell == round(t.predicted or 0.0, 6)
    # kubectl get -o wide: the latest prediction beside it.
    assert all(rows[t.name]["Latest"] == round(t.predicted or 0.0, 6) for t in stage1)
    for plural in ("hypersearches", names.TRIAL_PLURAL):
        got = table(k8s, f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}")
        for column in got["columnDefinitions"]:
            assert column["description"].strip(), (plural, column)
