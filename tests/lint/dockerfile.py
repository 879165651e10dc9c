"""Just enough of a Dockerfile parser for static checks: instructions, COPY sources, what each
`pip install` installs and with which constraints file, the entrypoint."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# `pip install` options that take a value (the value is not a thing to install).
_VALUED = {"-c", "--constraint", "-r", "--requirement", "-i", "--index-url", "--extra-index-url",
           "-f", "--find-links", "-t", "--target", "--prefix", "--root"}  # fmt: skip


@dataclass
class PipInstall:
    targets: list[str]  # paths in the image (absolute) or requirement strings
    constraints: list[str]  # absolute paths in the image


@dataclass
class Dockerfile:
    path: Path
    instructions: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        text = re.sub(r"\\\n", " ", path.read_text())
        self = cls(path)
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            self.instructions.append((word.upper(), rest.strip()))
        return self

    def copies(self) -> list[tuple[list[str], str]]:
        """(repository sources, absolute destination) of every COPY, WORKDIR applied."""
        out, workdir = [], "/"
        for word, rest in self.instructions:
            if word == "WORKDIR":
                workdir = posixpath.join(workdir, rest)
            elif word == "COPY":
                args = [a for a in shlex.split(rest) if not a.startswith("--")]
                *srcs, dest = args
                out.append((srcs, posixpath.normpath(posixpath.join(workdir, dest))))
        return out

    def pip_installs(self) -> list[PipInstall]:
        """Every `pip install` of a RUN, paths made absolute against the WORKDIR."""
        out, workdir = [], "/"
        for word, rest in self.instructions:
            if word == "WORKDIR":
                workdir = posixpath.join(workdir, rest)
            if word != "RUN":
                continue
            for command in re.split(r"&&|;", rest):
                tokens = shlex.split(command)
                if tokens[:2] != ["pip", "install"] and tokens[1:3] != ["-m", "pip"]:
                    continue
                targets, constraints, skip = [], [], False
                args = tokens[tokens.index("install") + 1 :]
                for i, tok in enumerate(args):
                    if skip:
                        skip = False
                        continue
                    if "$" in tok or "}" in tok:  # ${VAR:+--opt "$VAR"}: optional, not a target
                        continue
                    if tok in _VALUED:
                        skip = True
                        if tok in ("-c", "--constraint"):
                            constraints.append(posixpath.join(workdir, args[i + 1]))
                        continue
                    if tok.startswith("-"):
                        continue
                    is_path = tok.startswith((".", "/"))
                    targets.append(
                        posixpath.normpath(posixpath.join(workdir, tok)) if is_path else tok
                    )
                out.append(PipInstall(targets, [posixpath.normpath(c) for c in constraints]))
        return out

    def source_of(self, image_path: str) -> Path:
        """The repository file or folder that the image's path was copied from (the last COPY
        that wrote it wins)."""
        for srcs, dest in reversed(self.copies()):
            for src in srcs:
                local = REPO / src
                if local.is_dir():  # COPY dir/ dest: the folder's contents land in dest
                    if image_path == dest:
                        return local
                    inner = local / posixpath.relpath(image_path, dest)
                    if image_path.startswith(dest + "/") and inner.exists():
                        return inner
                elif image_path == posixpath.join(dest, local.name) or (
                    len(srcs) == 1 and image_path == dest
                ):
                    return local
        raise AssertionError(f"{self.path.name}: nothing is copied to {image_path}")

    def project_of(self, image_dir: str) -> Path:
        """The repository folder whose pyproject.toml `pip install <image_dir>` builds."""
        pyproject = self.source_of(posixpath.join(image_dir, "pyproject.toml"))
        return pyproject.parent

    def last(self, word: str) -> str | None:
        found = [rest for w, rest in self.instructions if w == word]
        return found[-1] if found else None

    def entrypoint(self) -> list[str]:
        value = self.last("ENTRYPOINT")
        assert value is not None, f"{self.path}: no ENTRYPOINT"
        parsed: list[str] = json.loads(value)  # the exec form only
        return parsed

    def env_names(self) -> set[str]:
        names = set()
        for word, rest in self.instructions:
            if word == "ENV":
                names |= {m.group(1) for m in re.finditer(r"(\w+)=", rest)}
        return names
