"""The spec: one schema (the CRD), defaults, semantic rules, errors that name the field."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypersearch.spec import SpecInvalid, check, parse
from hypersearch.spec.schema import crd

ROOT = Path(__file__).resolve().parents[2]

MINIMAL: dict[str, Any] = {
    "apiVersion": "hypersearch.dev/v1alpha1",
    "kind": "HyperSearch",
    "metadata": {"name": "mini"},
    "spec": {
        "stream": {"windows": 30},
        "parameters": [
            {"name": "lr", "type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
            {"name": "optimizer", "type": "categorical", "values": ["sgd", "adam"]},
        ],
        "trialTemplate": {
            "spec": {
                "containers": [
                    {
                        "name": "trainer",
                        "command": ["hypersearch-trainer"],
                        "args": ["--lr={{params.lr}}"],
                    }
                ]
            }
        },
    },
}


def doc(metadata: dict[str, Any] | None = None, **spec_changes: Any) -> dict[str, Any]:
    """MINIMAL with ``spec_changes`` in its spec (and ``metadata`` in its metadata)."""
    d = copy.deepcopy(MINIMAL)
    d["metadata"].update(metadata or {})
    d["spec"].update(spec_changes)
    return d


def paths(errors: list[Any]) -> set[str]:
    return {e.path for e in errors}


def test_short_manifest_gets_sensible_defaults() -> None:
    spec = parse(MINIMAL)
    assert spec.parallelism == 4 and spec.trials == 16 and spec.top_k == 3
    assert spec.sampler.name == "random"
    assert spec.stopping.rule == "performance" and spec.predictor.name == "constant"
    assert spec.stage1_data.stop == 30 and spec.stage2_data.rate == 1.0
    assert spec.target_windows == range(23, 30)
    assert spec.metrics.objective_name == "hypersearch_trainer_window_metric"


def built_package(tmp_path: Path) -> Path:
    """The ``hypersearch`` package as ``pip install .`` (and the operator image) lays it out.

    In the checkout the packaged ``spec/crd.yaml`` is a symlink into ``manifests/crds/``, so
    reading it from the source tree compares the CRD with itself. ``build_py`` is the step of a
    real install that resolves the link and copies package data; run on a copy of the sources
    it gives the file an installed operator would read.
    """
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for part in ("operator", "trainer_image", "manifests/crds"):
        shutil.copytree(ROOT / part, src / part, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    lib = tmp_path / "lib"
    build = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
         "--build-lib", str(lib)],
        cwd=src, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    return lib


def test_installed_package_carries_the_crd_of_manifests_and_validates_with_it(
    tmp_path: Path,
) -> None:
    manifest = ROOT / "manifests/crds/hypersearch.yaml"
    lib = built_package(tmp_path)
    packaged = lib / "hypersearch/spec/crd.yaml"
    assert packaged.is_file() and not packaged.is_symlink(), "the CRD is not in the package"
    assert packaged.read_bytes() == manifest.read_bytes(), "packaged CRD differs from manifests"
    # The installed code reads that file: its schema rejects what the CRD rejects, and accepts
    # the minimal manifest, in a process that imports only the built package.
    bad = doc(parallelism=0, sampler={"name": "bayes"})
    probe = (
        "import json, sys\n"
        "import hypersearch.spec.schema as s\n"
        "from hypersearch.spec import check\n"
        "good, bad = json.loads(sys.stdin.read())\n"
        "print(json.dumps([s.__file__, sorted(e.path for e in check(good)[1]),\n"
        "                  sorted(e.path for e in check(bad)[1])]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], input=json.dumps([MINIMAL, bad]), env={
            **os.environ, "PYTHONPATH": str(lib)}, cwd=tmp_path, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    module, good_errors, bad_errors = json.loads(result.stdout)
    assert Path(module).is_relative_to(lib), module
    assert good_errors == []
    assert bad_errors == ["spec.parallelism", "spec.sampler.name"]
    # And the checkout itself reads the same CRD.
    assert crd() == yaml.safe_load(manifest.read_text())


def test_every_error_is_reported_at_once_with_its_field_path() -> None:
    d = doc(
        parameters=[
            {"name": "lr", "type": "double", "min": 0.1, "max": 0.01},
            {"name": "wd", "type": "double", "min": 0.0, "max": 1.0, "scale": "log"},
            {"name": "opt", "type": "categorical"},
            {"name": "lr", "type": "int", "min": 1.5, "max": 4},
        ],
        trials=2,
        stage2={"topK": 5},
        stage1={"data": {"start": 10, "stop": 5}, "stopping": {"rungs": [3, 40]}},
    )
    _, errors = check(d)
    assert {
        "spec.parameters[0].min",
        "spec.parameters[1].min",
        "spec.parameters[2].values",
        "spec.parameters[3].name",
        "spec.parameters[3].min",
        "spec.stage2.topK",
        "spec.stage1.data.stop",
        "spec.stage1.stopping.rungs[0]",
        "spec.stage1.stopping.rungs[1]",
    } <= paths(errors)
    assert "log scale needs min > 0" in str(errors)


# Schema violations (no semantic rule needed) and the field each must be reported at; the
# operator tests send the same documents to a real API server (tests/operator/test_schema_parity.py).
SCHEMA_VIOLATIONS: list[tuple[dict[str, Any], str]] = [
    ({"paralelism": 3}, "spec.paralelism"),
    ({"parallelism": 0}, "spec.parallelism"),
    ({"sampler": {"name": "bayes"}}, "spec.sampler.name"),
    ({"stage1": {"stopping": {"rule": "hyperband"}}}, "spec.stage1.stopping.rule"),
    ({"stage1": {"predictor": {"name": "lstm"}}}, "spec.stage1.predictor.name"),
    ({"stage1": {"data": {"rate": 0}}}, "spec.stage1.data.rate"),
    ({"stage1": {"data": {"evalRate": 0}}}, "spec.stage1.data.evalRate"),
    ({"stage2": {"data": {"evalRate": 1.5}}}, "spec.stage2.data.evalRate"),
    ({"stage1": {"data": {"evalRate": "half"}}}, "spec.stage1.data.evalRate"),
    ({"metrics": {"cpuSeconds": 7}}, "spec.metrics.cpuSeconds"),
    ({"parameters": []}, "spec.parameters"),
    ({"seed": -1}, "spec.seed"),
    # 60 characters: a stage-2 run's name (<name>-<id>-full) would not fit a label (63).
    ({"metadata": {"name": "n" * 60}}, "metadata.name"),
]


@pytest.mark.parametrize(("change", "path"), SCHEMA_VIOLATIONS)
def test_schema_violations_name_the_field(change: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecInvalid) as info:
        parse(doc(**change))
    assert path in paths(info.value.errors)


def test_eval_rate_defaults_to_one_reaches_the_trial_env_and_rejects_nan() -> None:
    spec = parse(MINIMAL)
    assert spec.stage1_data.eval_rate == 1.0 and spec.stage2_data.eval_rate == 1.0
    assert spec.stage1_data.env()["HS_EVAL_RATE"] == "1.0"
    assert spec.metrics.cpu_seconds == "hypersearch_trainer_cpu_seconds_total"
    assert spec.metrics.gpu_seconds == "hypersearch_trainer_gpu_seconds_total"
    sampled = parse(doc(stage1={"data": {"rate": 0.1, "evalRate": 0.25}}))
    assert sampled.stage1_data.eval_rate == 0.25
    assert sampled.stage1_data.env()["HS_EVAL_RATE"] == "0.25"
    assert parse(doc(metrics={"cpuSeconds": "my_cpu"})).metrics.cpu_seconds == "my_cpu"
    with pytest.raises(SpecInvalid) as info:
        parse(doc(stage1={"data": {"evalRate": float("nan")}}))
    (error,) = info.value.errors
    assert error.path == "spec.stage1.data.evalRate" and "(0, 1]" in error.message


def test_param_reference_to_unknown_parameter_is_rejected() -> None:
    d = doc()
    d["spec"]["trialTemplate"]["spec"]["containers"][0]["args"] = ["--x={{params.nope}}"]
    _, errors = check(d)
    assert paths(errors) == {"spec.trialTemplate.spec.containers[0].args[0]"}


def test_non_job_workload_needs_a_template() -> None:
    _, errors = check(
        doc(stage2={"workload": {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"}})
    )
    assert paths(errors) == {"spec.stage2.workload.template"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersearch", *args], capture_output=True, text=True, check=False
    )


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(MINIMAL))
    assert run_cli("validate", str(good)).returncode == 0

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc(trials=1, stage2={"topK": 2}, parallelism=0)))
    result = run_cli("validate", str(bad))
    assert result.returncode == 2
    assert "spec.parallelism" in result.stderr

    semantic = tmp_path / "semantic.yaml"
    semantic.write_text(yaml.safe_dump(doc(trials=1, stage2={"topK": 2})))
    result = run_cli("validate", str(semantic))
    assert result.returncode == 2 and "spec.stage2.topK" in result.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    result = run_cli("validate", str(broken))
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    missing = run_cli("validate", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"metadata": {"name": "n" * 60}}, "metadata.name", "at most 52 characters"),
        ({"seed": -1}, "spec.seed", "-1"),
    ],
    ids=["name-of-60", "seed-minus-1"],
)
def test_validate_command_refuses_a_long_name_and_a_negative_seed_naming_the_field(
    tmp_path: Path, change: dict[str, Any], field: str, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc(**change)))
    result = run_cli("validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.strip().startswith(f"{field}:")]
    assert says in line, result.stderr


def test_shipped_examples_are_valid() -> None:
    """Every HyperSearch example validates; data.yaml (a claim and a Job) is no HyperSearch."""
    examples = sorted((ROOT / "manifests/examples").glob("*.yaml"))
    kinds = {p.name: [d["kind"] for d in yaml.safe_load_all(p.read_text())] for p in examples}
    assert kinds.pop("data.yaml") == ["PersistentVolumeClaim", "Job"]
    assert kinds and all(k == ["HyperSearch"] for k in kinds.values()), kinds
    for name in kinds:
        result = run_cli("validate", str(ROOT / "manifests/examples" / name))
        assert result.returncode == 0, result.stderr
