"""The release path (.github/workflows/release.yaml; it cannot run here): on a tag it builds
both images from the Dockerfiles the other lint tests check, for amd64 and arm64, and publishes
the chart with the operator image pinned by the digest it just pushed; the chart renders such
a digest (and refuses a malformed one)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lint.dockerfile import REPO
from tests.lint.render import CHART, helm_template
from tests.lint.test_images import DOCKERFILES

WORKFLOW = REPO / ".github" / "workflows" / "release.yaml"
DIGEST = "sha256:" + "ab" * 32


def steps() -> list[dict[str, Any]]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    (job,) = doc["jobs"].values()
    found: list[dict[str, Any]] = job["steps"]
    return found


def test_workflow_builds_both_images_multi_arch() -> None:
    builds = {
        s["id"]: s["with"] for s in steps() if "docker/build-push-action" in s.get("uses", "")
    }
    assert set(builds) == set(DOCKERFILES) | {"trainer-cpu"}
    for step, build in builds.items():
        image, _, variant = step.partition("-")
        assert REPO / build["file"] == DOCKERFILES[image]
        assert build["context"] == "."  # both Dockerfiles copy constraints.txt from the root
        assert {"linux/amd64", "linux/arm64"} <= set(build["platforms"].split(","))
        suffix = f"-{variant}" if variant else ""
        assert build["push"] is True and build["tags"].endswith(
            f"/{image}:${{{{ steps.v.outputs.version }}}}{suffix}"
        )


def test_workflow_builds_a_cpu_trainer_and_checks_it_has_no_cuda() -> None:
    """The CPU trainer is the trainer's Dockerfile with torch's CPU wheel index, taken from a
    repository variable (never a default: an unset variable would silently push CUDA torch)."""
    by_name = {s.get("id") or s.get("name"): s for s in steps()}
    cpu = by_name["trainer-cpu"]["with"]
    assert cpu["build-args"] == "TORCH_INDEX_URL=${{ vars.TORCH_CPU_INDEX_URL }}"
    assert "build-args" not in by_name["trainer"]["with"]
    (check,) = [s for s in steps() if "torch.version.cuda is None" in s.get("run", "")]
    assert check["env"]["TORCH_CPU_INDEX_URL"] == "${{ vars.TORCH_CPU_INDEX_URL }}"
    assert '[ -n "$TORCH_CPU_INDEX_URL" ]' in check["run"]
    names = [s.get("id") or s.get("name") for s in steps()]
    assert names.index(check["name"]) < names.index("trainer-cpu")


def test_workflow_pins_the_chart_to_the_pushed_operator_digest() -> None:
    (chart,) = [s for s in steps() if "helm push" in s.get("run", "")]
    assert chart["env"]["DIGEST"] == "${{ steps.operator.outputs.digest }}"
    assert ".image.digest = strenv(DIGEST)" in chart["run"]
    assert chart["run"].index("yq -i") < chart["run"].index("helm package")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert "digest" in values["image"]


def test_chart_renders_a_digest(tmp_path: Path) -> None:
    objs = helm_template(tmp_path, "--set", f"image.digest={DIGEST}", "-s",
                         "templates/deployment.yaml")  # fmt: skip
    (container,) = objs[0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/hypersearch/operator@{DIGEST}"
    objs = helm_template(tmp_path, "-s", "templates/deployment.yaml")
    (container,) = objs[0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/hypersearch/operator:0.1.0"


def test_chart_refuses_a_malformed_digest(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="digest"):
        helm_template(tmp_path, "--set", "image.digest=latest")


def test_versions_agree() -> None:
    """The tag must equal the chart's version and appVersion (the workflow checks it); the
    packages carry the same version."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    for folder in (REPO, REPO / "trainer_image"):
        with open(folder / "pyproject.toml", "rb") as f:
            assert tomllib.load(f)["project"]["version"] == chart["version"] == chart["appVersion"]
