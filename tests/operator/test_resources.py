"""Pure parts of the operator: child objects built from a search, and the engine state split
into Trial statuses and joined back (the restart path, without a cluster)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.engine.trial import Trial, TrialState
from hypersearch.kube.resources import trial_pod, trial_resource, workload
from hypersearch.kube.state import (
    decision_predicted,
    engine_block,
    pod_ledgers,
    restore,
    trajectory,
    trial_status,
)
from hypersearch.kube.usage import PodUse
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange

from tests.operator.conftest import tiny_search


def search_object(doc: dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(json.dumps(doc))
    obj["metadata"].update({"namespace": "ns", "uid": "uid-1", "generation": 1})
    return obj


def first_start(doc: dict[str, Any]) -> tuple[Search, StartTrial]:
    search = Search(parse(doc))
    start = search.step()[0]
    assert isinstance(start, StartTrial)
    return search, start


def test_trial_pod_has_protocol_env_labels_owner_and_substituted_args() -> None:
    doc = tiny_search("s")
    doc["spec"]["trialTemplate"]["spec"]["containers"][0]["args"] = ["--lr={{params.lr}}"]
    _, start = first_start(doc)
    pod = trial_pod(parse(doc), search_object(doc), start)
    assert pod["metadata"]["name"] == "s-000"
    assert pod["metadata"]["labels"]["hypersearch.dev/search"] == "s"
    assert pod["metadata"]["labels"]["hypersearch.dev/stage"] == "1"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    c = pod["spec"]["containers"][0]
    assert c["args"] == [f"--lr={start.params['lr']}"]
    env = {e["name"]: e for e in c["env"]}
    assert env["HS_PARAM_lr"]["value"] == str(start.params["lr"])
    assert env["HS_DATA_RATE"]["value"] == "0.5"
    assert env["HS_METRICS_PORT"]["value"] == "9100"
    assert env["HS_METRICS_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["HS_DATASET"]["value"].startswith("synth:")
    assert pod["spec"]["restartPolicy"] == "Never"
    # Deterministic: the same start builds the same object (a retried create is a 409).
    assert trial_pod(parse(doc), search_object(doc), start) == pod


def test_a_transformed_stage1_pod_runs_its_transformed_params_the_trial_names_the_config() -> None:
    """spec.stage1.transfer: the pod's args and HS_PARAM_* carry the params for its data rate
    (0.5 here: lr x 0.5**-1 = 2x, at most the parameter's max); the Trial resource (and so the
    status, events and results built from it) names the sampled configuration."""
    doc = tiny_search("s")
    doc["spec"]["trialTemplate"]["spec"]["containers"][0]["args"] = ["--lr={{params.lr}}"]
    doc["spec"]["stage1"]["transfer"] = {"name": "rate-aware", "lrExponent": -1.0}
    spec = parse(doc)
    _, start = first_start(doc)
    (lr_param,) = [p for p in spec.parameters if p.name == "lr"]
    expected = min(float(start.params["lr"]) * 2.0, lr_param.max or 0.0)
    assert float(start.trainer_params["lr"]) == pytest.approx(expected)
    pod = trial_pod(spec, search_object(doc), start)
    c = pod["spec"]["containers"][0]
    assert c["args"] == [f"--lr={start.trainer_params['lr']}"]
    env = {e["name"]: e for e in c["env"]}
    assert env["HS_PARAM_lr"]["value"] == str(start.trainer_params["lr"])
    trial = trial_resource(search_object(doc), start, None)
    assert trial["spec"]["params"] == start.params


def test_stage2_default_is_a_job_around_the_trial_template() -> None:
    doc = tiny_search("s")
    _, start = first_start(doc)
    job = workload(parse(doc), search_object(doc), start)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    # A disrupted node does not fail a winner; its own non-zero exit does, at once.
    policy = job["spec"]["podFailurePolicy"]["rules"]
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]} in policy
    assert any(r["action"] == "FailJob" and "onExitCodes" in r for r in policy)
    assert job["spec"]["backoffLimit"] >= 1
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["hypersearch.dev/trial"] == start.name


def test_job_template_without_containers_runs_the_trial_container_with_its_settings() -> None:
    doc = tiny_search(
        "s",
        stage2={"topK": 1, "workload": {"apiVersion": "batch/v1", "kind": "Job", "template": {
            "activeDeadlineSeconds": 86400,
            "template": {"spec": {"nodeSelector": {"gpu": "h200"}}},
        }}},
    )  # fmt: skip
    _, start = first_start(doc)
    job = workload(parse(doc), search_object(doc), start)
    assert job["spec"]["activeDeadlineSeconds"] == 86400
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["hypersearch.dev/trial"] == start.name
    assert pod["spec"]["nodeSelector"] == {"gpu": "h200"}
    env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
    assert {"HS_PARAM_lr", "HS_DATA_STOP", "HS_METRICS_PORT"} <= env


def test_custom_workload_kind_gets_params_labels_and_env_in_every_pod_template() -> None:
    doc = tiny_search(
        "s",
        stage2={"topK": 1, "workload": {
            "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "template": {"runPolicy": {"cleanPodPolicy": "None"}, "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "template": {"metadata": {"labels": {"team": "ads"}},
                    "spec": {"containers": [{"name": "pytorch", "args": ["--lr={{params.lr}}"],
                                             "env": [{"name": "MODE", "value": "{{params.lr}}"}]},
                                            {"name": "sidecar"}]}}},
                "Worker": {"replicas": 2, "template": {
                    "spec": {"containers": [{"name": "pytorch", "args": ["--lr={{params.lr}}"]}]}}},
            }},
        }},
    )  # fmt: skip
    _, start = first_start(doc)
    obj = workload(parse(doc), search_object(doc), start)
    assert obj["kind"] == "PyTorchJob"
    assert obj["spec"]["runPolicy"] == {"cleanPodPolicy": "None"}
    lr = str(start.params["lr"])
    for replica in ("Master", "Worker"):
        template = obj["spec"]["pytorchReplicaSpecs"][replica]["template"]
        assert template["metadata"]["labels"]["hypersearch.dev/trial"] == start.name
        first = template["spec"]["containers"][0]
        assert first["args"] == [f"--lr={lr}"]
        env = {e["name"]: e.get("value") for e in first["env"]}
        assert env["HS_PARAM_lr"] == lr and "HS_DATA_STOP" in env and "HS_METRICS_PORT" in env
    master = obj["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
    assert master["metadata"]["labels"]["team"] == "ads"
    assert {e["name"]: e.get("value") for e in master["spec"]["containers"][0]["env"]}["MODE"] == lr
    assert "env" not in master["spec"]["containers"][1]  # only the first container


def test_state_round_trips_through_trial_statuses_even_without_nulls() -> None:
    doc = tiny_search("s")
    spec = parse(doc)
    search = Search(spec)
    starts = search.step()
    windows = {w: WindowStat(0.5 + w / 100, 10.0) for w in range(3)}
    search.observe_all({0: TrialReport(3.0, 300.0, windows, cpu_seconds=4.5, gpu_seconds=0.0)})
    search.record_compute(1, 2.0, 0.5, "pod-requests")
    ledger = {"uid-1": PodUse(cpu=0.5, gpu=1.0, created=100.0, started=104.0, ended=None)}
    resources = []
    for a in starts:
        assert isinstance(a, StartTrial)
        res = trial_resource(search_object(doc), a, None)
        assert res["spec"]["data"]["evalRate"] == 1.0
        pods = ledger if a.trial == 1 else None
        status = json.loads(json.dumps(trial_status(search.trials[a.trial], pods)))
        # The API server drops null values; the restore must not depend on them.
        status["record"] = {k: v for k, v in status["record"].items() if v is not None}
        res["status"] = status
        resources.append(res)
    assert resources[0]["status"]["computeSource"] == "trainer"
    assert resources[0]["status"]["cpuSeconds"] == 4.5
    restored = restore(spec, {"engine": engine_block(search)}, resources)
    assert restored.to_state() == search.to_state()
    assert restored.step() == search.step()
    assert restored.trials[1].compute_source == "pod-requests"
    assert pod_ledgers(resources) == {1: ledger}


def test_missing_trial_resource_is_accounted_as_failed() -> None:
    doc = tiny_search("s")
    spec = parse(doc)
    search = Search(spec)
    starts = [a for a in search.step() if isinstance(a, StartTrial)]
    resources = []
    for a in starts[1:]:  # the first Trial was deleted by hand
        res = trial_resource(search_object(doc), a, None)
        res["status"] = json.loads(json.dumps(trial_status(search.trials[a.trial])))
        resources.append(res)
    restored = restore(spec, {}, resources)
    assert restored.trials[0].state.value == "Failed"
    assert "deleted by hand" in restored.trials[0].reason
    assert [t.name for t in restored.trials] == [a.name for a in starts]


def test_trajectory_is_bounded_and_keeps_the_last_window() -> None:
    search = Search(parse(tiny_search("s", stream={"windows": 200})))
    search.step()
    t = search.trials[0]
    t.windows = {w: WindowStat(float(w)) for w in range(150)}
    points = trajectory(t, limit=40)
    assert len(points) == 40 and points[-1] == [149.0, 149.0] and points[0] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("state", "at_stop", "shown"),
    [
        (TrialState.STOPPED, 0.50561234, 0.505612),  # stopped on its prediction at a rung
        (TrialState.STOPPED, None, 0.452006),  # asha/median (observed values), failed search
        (TrialState.COMPLETED, None, 0.452006),
        (TrialState.RUNNING, None, 0.452006),
    ],
)
def test_the_predicted_column_is_the_prediction_a_stop_was_made_on_else_the_latest(
    state: TrialState, at_stop: float | None, shown: float
) -> None:
    trial = Trial(0, "s-000", 1, {}, DataRange(0, 30), state=state)
    trial.predicted = 0.4520061
    trial.decision_predicted = at_stop
    status = trial_status(trial)
    assert decision_predicted(trial) == status["decisionPredicted"] == shown
    assert status["predicted"] == 0.452006
