"""Static checks of what the images install (they are not built here): every command that the
example manifests, the Deployment and the chart give a container is a console script (or
`python -m` module) of the package its image's Dockerfile pip-installs; the images install
with the shared constraints; each package declares the third-party modules it imports; and
constraints.txt pins every dependency, as released versions only, matching the venv."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.lint.dockerfile import REPO, Dockerfile

CONSTRAINTS = REPO / "constraints.txt"
# Image repository (its last path segment) -> the Dockerfile that builds it.
DOCKERFILES = {"operator": REPO / "Dockerfile", "trainer": REPO / "trainer_image" / "Dockerfile"}
Obj = dict[str, Any]


def pyproject(folder: Path) -> Obj:
    with open(folder / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def containers(doc: Any) -> list[Obj]:
    """Every container spec anywhere in a manifest (pod templates, trial templates, ...)."""
    found: list[Obj] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found += [c for c in value if isinstance(c, dict) and "image" in c]
            else:
                found += containers(value)
    elif isinstance(doc, list):
        for item in doc:
            found += containers(item)
    return found


def image_dockerfile(image: str) -> Dockerfile:
    name = image.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
    assert name in DOCKERFILES, f"no Dockerfile builds {image} (known: {sorted(DOCKERFILES)})"
    return Dockerfile.parse(DOCKERFILES[name])


def installed_projects(dockerfile: Dockerfile) -> list[Path]:
    """The repository folders (with a pyproject.toml) the Dockerfile pip-installs."""
    projects = [dockerfile.project_of(t) for pi in dockerfile.pip_installs() for t in pi.targets
                if t.startswith("/")]  # fmt: skip
    assert projects, f"{dockerfile.path}: pip-installs no project of this repository"
    return projects


def package_dirs(project: Path) -> dict[str, Path]:
    """Import name -> source folder of the packages a pyproject installs."""
    tool = pyproject(project).get("tool", {}).get("setuptools", {})
    if "package-dir" in tool:
        return {name: project / d for name, d in tool["package-dir"].items()}
    return {name: project / name for name in tool.get("packages", [])}


def assert_runs(command: list[str], dockerfile: Dockerfile, where: str) -> None:
    """`command` is a console script or a `python -m` module of the image's packages."""
    scripts: dict[str, str] = {}
    packages: dict[str, Path] = {}
    for project in installed_projects(dockerfile):
        scripts |= pyproject(project)["project"].get("scripts", {})
        packages |= package_dirs(project)
    exe = command[0]
    if exe in ("python", "python3"):
        assert command[1] == "-m", f"{where}: {command} runs no module"
        top, *rest = command[2].split(".")
        assert top in packages, f"{where}: module {command[2]} is not in {sorted(packages)}"
        folder = packages[top].joinpath(*rest)
        assert (folder / "__main__.py").is_file() or folder.with_suffix(".py").is_file(), (
            f"{where}: {command[2]} has no __main__"
        )
        return
    assert exe in scripts, (
        f"{where}: command {exe!r} is not a console script of the packages "
        f"{dockerfile.path.relative_to(REPO)} installs (they declare {sorted(scripts)})"
    )
    module, _, func = scripts[exe].partition(":")
    top, *rest = module.split(".")
    source = packages[top].joinpath(*rest).with_suffix(".py")
    tree = ast.parse(source.read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert func in defined, f"{exe} = {scripts[exe]}: {source} defines no {func}()"


MANIFESTS = sorted((REPO / "manifests").rglob("*.yaml"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(REPO)))
def test_manifest_commands_exist_in_their_images(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        for c in containers(doc):
            if not c["image"].startswith("ghcr.io/hypersearch/"):
                continue  # a user's image: not ours to check
            dockerfile = image_dockerfile(c["image"])
            command = c.get("command") or dockerfile.entrypoint()
            assert_runs(command, dockerfile, f"{path.relative_to(REPO)} container {c['name']}")


def test_chart_command_exists_in_its_image() -> None:
    values = yaml.safe_load((REPO / "charts" / "hypersearch" / "values.yaml").read_text())
    dockerfile = image_dockerfile(values["image"]["repository"])
    assert_runs(values["command"], dockerfile, "charts/hypersearch values.yaml command")


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_pip_install_with_the_shared_constraints(image: str) -> None:
    dockerfile = image_dockerfile(image)
    assert "PYTHONPATH" not in dockerfile.env_names(), "install the package, not a PYTHONPATH"
    assert_runs(dockerfile.entrypoint(), dockerfile, f"{image} ENTRYPOINT")
    for pi in dockerfile.pip_installs():
        assert pi.constraints, f"{dockerfile.path}: pip install {pi.targets} without -c"
        for c in pi.constraints:
            assert dockerfile.source_of(c) == CONSTRAINTS, f"{c} is not constraints.txt"
    base = dockerfile.last("FROM")
    assert base is not None
    args = {m.group(1): m.group(2) for w, rest in dockerfile.instructions if w == "ARG"
            for m in [re.match(r"(\w+)=(\S+)", rest)] if m}  # fmt: skip
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
    assert base.startswith("python:3.11"), f"{image}: base {base} (constraints.txt is for 3.11)"


def test_setup_installs_with_the_shared_constraints() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert '-c "$HS_ROOT/constraints.txt"' in setup
    assert '"$HS_ROOT/constraints.txt"' in setup.split("want=", 1)[1].splitlines()[0], (
        "the venv is re-installed when the pins change"
    )


def test_trainer_packaging_matches_the_development_install() -> None:
    """trainer_image/pyproject.toml and the root pyproject install the same trainer: same
    command, same package data, same requirements (root: base dependencies + trainer extra)."""
    root, trainer = pyproject(REPO)["project"], pyproject(REPO / "trainer_image")
    assert (
        trainer["project"]["scripts"]["hypersearch-trainer"]
        == (root["scripts"]["hypersearch-trainer"])
    )
    root_tool = pyproject(REPO)["tool"]["setuptools"]
    assert (
        trainer["tool"]["setuptools"]["package-data"]["hypersearch_trainer"]
        == (root_tool["package-data"]["hypersearch_trainer"])
    )
    assert root_tool["package-dir"]["hypersearch_trainer"] == "trainer_image/hypersearch_trainer"
    root_reqs = {canonicalize_name(r.name): r for r in
                 map(Requirement, root["dependencies"] + root["optional-dependencies"]["trainer"])}  # fmt: skip
    for line in trainer["project"]["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in root_reqs, f"trainer needs {line}; the root pyproject lacks it"
        assert req.specifier == root_reqs[name].specifier, (
            f"trainer {line} vs root {root_reqs[name]}"
        )


def third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level module -> a file importing it, for every absolute import outside the stdlib."""
    own = {p.name for p in folder.parent.iterdir() if p.is_dir()}
    found: dict[str, str] = {}
    for source in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own and top != "__future__":
                    found.setdefault(top, str(source.relative_to(REPO)))
    return found


@pytest.mark.parametrize(
    ("package", "requirements"),
    [("operator/hypersearch", lambda: pyproject(REPO)["project"]["dependencies"]),
     ("trainer_image/hypersearch_trainer",
      lambda: pyproject(REPO / "trainer_image")["project"]["dependencies"])],
    ids=["operator image", "trainer image"],
)  # fmt: skip
def test_each_image_declares_what_its_package_imports(package: str, requirements: Any) -> None:
    """The operator image installs the base dependencies only (no extras), the trainer image
    its own pyproject's: a module imported but not declared would fail in the image."""
    declared = {canonicalize_name(Requirement(r).name) for r in requirements()}
    provides = metadata.packages_distributions()
    missing = {}
    for module, where in third_party_imports(REPO / package).items():
        dists = {canonicalize_name(d) for d in provides.get(module, [])}
        assert dists, f"{where} imports {module}, which no installed distribution provides"
        if not dists & declared:
            missing[module] = (where, sorted(dists))
    assert not missing, f"imported but not declared for the {package} image: {missing}"


PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)$")


def pins() -> dict[str, str]:
    out = {}
    for n, line in enumerate(CONSTRAINTS.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"constraints.txt:{n}: {line!r} is not name==version (no paths, URLs, -e)"
        assert "+" not in m.group(2), f"constraints.txt:{n}: a local version is no index release"
        out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def test_constraints_pin_every_declared_dependency() -> None:
    locked = pins()
    root = pyproject(REPO)["project"]
    lines = root["dependencies"] + [r for extra in root["optional-dependencies"].values()
                                    for r in extra]  # fmt: skip
    lines += pyproject(REPO / "trainer_image")["project"]["dependencies"]
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in locked, f"{line} is not pinned: run python scripts/lock.py"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{name}=={locked[name]} does not satisfy {line}"
        )


def test_constraints_match_the_venv() -> None:
    """scripts/setup.sh installed the venv with constraints.txt, so the lock regenerated from
    the venv is the file itself (a dependency added without re-locking fails here)."""
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "lock.py"), "--check"],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
