"""Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and KServe's agent
from Go modules.

No package anywhere ships kube-apiserver, and this project's machines have no Docker, so the
control plane is compiled from the Go module proxy on first use and cached outside the repo,
keyed by version, under ``${XDG_CACHE_HOME:-~/.cache}/modelops/``. A fresh clone reuses it.

Why a wrapper module: ``k8s.io/kubernetes`` requires its staging modules at ``v0.0.0`` and maps
them with ``replace => ./staging/...``; replaces only count in the main module, so a consumer must
repeat them, pointing each staging module at the published ``v0.<minor>.<patch>`` of the same
release. The list is read from that release's own go.mod, never hand-maintained.

KServe's agent (the predictor Pod's sidecar that posts the request logger's CloudEvents) needs no
wrapper: ``github.com/kserve/kserve``'s go.mod also has replace and exclude directives, and they count
when KServe's module *is* the main module, so the agent is built inside the module's directory in the
module cache, as KServe's own ``agent.Dockerfile`` builds it (``CGO_ENABLED=0 GOFLAGS=-mod=readonly go
build ./cmd/agent``: KServe's go.mod and go.sum decide every dependency, nothing is resolved anew).
See :func:`build_kserve_agent` for the one link-time setting it adds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from localcluster import versions

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelops"


def bin_dir() -> Path:
    return cache_root() / "bin"


def binary_paths() -> dict[str, Path]:
    """Where each binary lives in the cache; the directory name is the version (the cache key)."""
    root = bin_dir()
    paths = {name: root / f"kubernetes-{versions.KUBERNETES}" / name for name in KUBE_COMMANDS}
    paths["etcd"] = root / f"etcd-{versions.ETCD}" / "etcd"
    paths["kwok"] = root / f"kwok-{versions.KWOK}" / "kwok"
    return paths


def kserve_agent_path() -> Path:
    return bin_dir() / f"kserve-agent-{versions.KSERVE_MODULE[1]}" / "agent"


def helm_path() -> Path:
    return bin_dir() / f"helm-{versions.HELM}" / "helm"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # GOTOOLCHAIN=local: never download a surprise toolchain; CGO off: static, no C toolchain needed.
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod -buildvcs=false"})
    return env


def _run(cmd: list[str], cwd: Path | None = None, quiet: bool = False) -> str:
    if not quiet:
        print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=_go_env(), text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def module_dir(module: str, version: str) -> Path:
    """Download a module into the module cache and return its directory (read-only)."""
    out = _run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=Path("/"), quiet=True)
    info = json.loads(out)
    if "Error" in info:
        raise RuntimeError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def _go_directive() -> str:
    out = _run(["go", "env", "GOVERSION"])  # e.g. go1.26.8
    match = re.match(r"go(\d+\.\d+)", out.strip())
    if not match:
        raise RuntimeError(f"cannot read the Go version from {out!r}")
    return match.group(1)


def staging_replaces(kubernetes_version: str) -> list[tuple[str, str]]:
    """The staging modules of a release, each pointed at its published v0.<minor>.<patch>."""
    out = _run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes_version}"], cwd=Path("/"))
    gomod = Path(json.loads(out)["GoMod"]).read_text()
    staged = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod, flags=re.MULTILINE)
    if not staged:
        raise RuntimeError(f"no staging replaces found in k8s.io/kubernetes@{kubernetes_version} go.mod")
    published = "v0." + kubernetes_version.removeprefix("v1.")
    return [(name, published) for name in sorted(set(staged))]


def _fresh_workdir(name: str) -> Path:
    work = cache_root() / "build" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def _install(built: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    shutil.copy2(built, tmp)
    tmp.chmod(0o755)
    tmp.replace(target)  # atomic: a half-copied binary is never taken for a cached one


def build_kubernetes(commands: tuple[str, ...] = KUBE_COMMANDS) -> None:
    """Build ``commands`` of one Kubernetes release (kubectl from the same module and version as the
    server, so it never warns about skew), stamped with the version."""
    version = versions.KUBERNETES
    work = _fresh_workdir(f"kubernetes-{version}")
    replaces = staging_replaces(version)
    lines = [f"module modelops.local/kubernetes-build\n\ngo {_go_directive()}\n", "replace ("]
    lines += [f"\t{name} => {name} {published}" for name, published in replaces]
    lines.append(")\n")
    (work / "go.mod").write_text("\n".join(lines))
    _run(["go", "get", f"k8s.io/kubernetes@{version}"], cwd=work)
    for command in commands:
        _run(["go", "get", "-tool", f"k8s.io/kubernetes/cmd/{command}@{version}"], cwd=work)
    major, minor, _ = version.removeprefix("v").split(".")
    stamps = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}",
                   f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    out = work / "out"
    out.mkdir()
    _run(["go", "build", "-trimpath", "-ldflags", "-s -w " + " ".join(stamps), "-o", str(out) + "/",
          *[f"k8s.io/kubernetes/cmd/{c}" for c in commands]], cwd=work)
    for command in commands:
        _install(out / command, binary_paths()[command])
    shutil.rmtree(work)


def build_etcd() -> None:
    work = _fresh_workdir(f"etcd-{versions.ETCD}")
    (work / "go.mod").write_text(f"module modelops.local/etcd-build\n\ngo {_go_directive()}\n")
    _run(["go", "get", "-tool", f"go.etcd.io/etcd/server/v3@{versions.ETCD}"], cwd=work)
    _run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(work / "etcd"),
          "go.etcd.io/etcd/server/v3"], cwd=work)
    _install(work / "etcd", binary_paths()["etcd"])
    shutil.rmtree(work)


def _go_install(name: str, package: str, version: str, target: Path) -> None:
    """`go install package@version` into the cache (for modules without replace directives)."""
    work = _fresh_workdir(f"{name}-{version}")
    env_bin = work / "gobin"
    cmd = ["go", "install", "-trimpath", "-ldflags", "-s -w", f"{package}@{version}"]
    print(f"+ GOBIN={env_bin} {' '.join(cmd)}", file=sys.stderr, flush=True)
    env = _go_env() | {"GOBIN": str(env_bin), "GOFLAGS": "-buildvcs=false"}
    proc = subprocess.run(cmd, cwd=work, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {name} failed:\n{proc.stdout}\n{proc.stderr}")
    _install(env_bin / name, target)
    shutil.rmtree(work)


def build_kwok() -> None:
    # kwok's go.mod has no replaces, so a plain `go install module@tag` works.
    _go_install("kwok", "sigs.k8s.io/kwok/cmd/kwok", versions.KWOK, binary_paths()["kwok"])


def ensure_helm() -> Path:
    """Helm, built from the Go module proxy on first use and cached like the control plane."""
    path = helm_path()
    if not path.exists():
        _go_install("helm", "helm.sh/helm/v3/cmd/helm", versions.HELM, path)
    return path


# KServe's agent listens, besides its TCP port, on the fixed abstract Unix socket "@/kserve/agent.sock"
# (cmd/agent/main.go:86, for Knative's exec probe) and exits when it cannot (main.go:209-212, 232-240):
# harmless in a Pod, which has its own network namespace, fatal for the second agent on one host. The
# variable is a string var of package main, so the linker can set it: a relative path makes each agent
# listen on ``agent.sock`` in its own working directory (model_servers.py gives each its own).
AGENT_UNIX_SOCKET = "agent.sock"


def build_kserve_agent() -> Path:
    """KServe's agent at the pinned KServe version, into the cache; its path."""
    module, version = versions.KSERVE_MODULE
    source = module_dir(module, version)
    work = _fresh_workdir(f"kserve-agent-{version}")
    env_flags = "-mod=readonly -buildvcs=false"
    cmd = ["go", "build", "-trimpath", "-ldflags", f"-s -w -X main.unixSocketPath={AGENT_UNIX_SOCKET}",
           "-o", str(work / "agent"), "./cmd/agent"]
    print(f"+ (cd {source} && GOFLAGS='{env_flags}' {' '.join(cmd)})", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=source, env=_go_env() | {"GOFLAGS": env_flags}, text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building KServe's agent {version} failed:\n{proc.stdout}\n{proc.stderr}")
    _install(work / "agent", kserve_agent_path())
    shutil.rmtree(work)
    return kserve_agent_path()


def ensure_kserve_agent() -> Path:
    path = kserve_agent_path()
    return path if path.exists() else build_kserve_agent()


BUILDERS = {"etcd": build_etcd, "kwok": build_kwok, "kube-apiserver": build_kubernetes}


def ensure_binaries() -> dict[str, Path]:
    """Build whatever is missing from the cache; return the path of every binary."""
    paths = binary_paths()
    if not paths["etcd"].exists():
        build_etcd()
    if not paths["kwok"].exists():
        build_kwok()
    missing = tuple(c for c in KUBE_COMMANDS if not paths[c].exists())
    if missing:
        build_kubernetes(missing)
    return paths
