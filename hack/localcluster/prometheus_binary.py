"""Where the real Prometheus and promtool binaries come from: Debian's ``prometheus`` package, never
installed system-wide. ``apt-get download`` fetches the .deb into a temporary directory, ``dpkg-deb
-x`` unpacks it there, and ``prometheus`` and ``promtool`` are copied into
``${XDG_CACHE_HOME:-~/.cache}/modelops/bin/prometheus-<Debian version>/`` (the directory appears in
one rename, so a half-copied pair is never taken for a cached one). The cache is keyed by the exact
Debian version apt offers, so a security update of the package is picked up, and a machine that
cannot reach the archive keeps using any cached 2.x. Debian, not a Go build: Prometheus' own go.mod
pulls in every cloud SDK its service discoveries use, which would cost minutes of compiling on first
use, and Debian's archive is one the project's machines reach.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from localcluster import versions
from localcluster.building import bin_dir

DEBIAN_PACKAGE = "prometheus"
COMMANDS = ("prometheus", "promtool")

# apt-get's answers when its package lists are missing or older than the archive (a superseded
# version 404s); `apt-get update` cures both, anything else (no network) it does not.
_STALE_LISTS = re.compile(r"Unable to locate package|no installation candidate|Can't select|404\s+Not Found")


class PrometheusUnavailable(RuntimeError):
    """The ``prometheus`` binary could not be had; the message carries apt's own error."""


# -- the binary -------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=cwd, text=True, capture_output=True, stdin=subprocess.DEVNULL)


def _candidate_version() -> str | None:
    """The version ``apt-get download prometheus`` would fetch, from the local package lists."""
    try:
        proc = subprocess.run(["apt-cache", "policy", DEBIAN_PACKAGE], text=True, capture_output=True)
    except FileNotFoundError:
        return None
    match = re.search(r"^\s*Candidate:\s*(\S+)", proc.stdout, flags=re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def upstream_version(debian_version: str) -> str:
    """``2.42.0+ds-5+deb12u1`` -> ``2.42.0`` (epoch, repack suffix and Debian revision removed)."""
    return re.split(r"[+~-]", debian_version.rpartition(":")[2], maxsplit=1)[0]


def _version_key(debian_version: str) -> tuple[tuple[int, ...], str]:
    numbers = tuple(int(part) for part in re.findall(r"\d+", upstream_version(debian_version)))
    return numbers, debian_version


def _cache_dir(debian_version: str) -> Path:
    return bin_dir() / f"{DEBIAN_PACKAGE}-{debian_version}"


def _complete(directory: Path) -> bool:
    return all(os.access(directory / command, os.X_OK) for command in COMMANDS)


def _cached_versions() -> list[str]:
    """Debian versions of Prometheus 2.x already in the cache, newest first."""
    root = bin_dir()
    if not root.is_dir():
        return []
    found = [
        entry.name.removeprefix(f"{DEBIAN_PACKAGE}-")
        for entry in root.glob(f"{DEBIAN_PACKAGE}-2.*")
        if entry.is_dir() and _complete(entry)
    ]
    return sorted(found, key=_version_key, reverse=True)


def _download_deb(workdir: Path) -> Path:
    download = ["apt-get", "download", DEBIAN_PACKAGE]
    proc = _run(download, cwd=workdir)
    if proc.returncode != 0 and _STALE_LISTS.search(proc.stderr) and os.geteuid() == 0:
        update = _run(["apt-get", "update"])
        if update.returncode != 0:
            raise PrometheusUnavailable(
                f"`{' '.join(download)}` failed and `apt-get update` failed too ({update.returncode}):\n"
                f"{proc.stderr}\n{update.stderr}"
            )
        proc = _run(download, cwd=workdir)
    if proc.returncode != 0:
        raise PrometheusUnavailable(
            f"`{' '.join(download)}` failed ({proc.returncode}); the tests need Debian's `prometheus` "
            f"package (they never skip):\n{proc.stdout}\n{proc.stderr}"
        )
    debs = sorted(workdir.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise PrometheusUnavailable(f"`{' '.join(download)}` left {[d.name for d in debs]} in {workdir}")
    return debs[0]


def _unpack_into_cache(deb: Path, workdir: Path) -> str:
    """Unpack the .deb and move its two binaries into the cache; return the Debian version."""
    field = _run(["dpkg-deb", "-f", str(deb), "Version"])
    if field.returncode != 0 or not field.stdout.strip():
        raise PrometheusUnavailable(f"cannot read the version of {deb.name}:\n{field.stderr}")
    version = field.stdout.strip()
    target = _cache_dir(version)
    if _complete(target):
        return version
    tree = workdir / "tree"
    unpacked = _run(["dpkg-deb", "-x", str(deb), str(tree)])
    if unpacked.returncode != 0:
        raise PrometheusUnavailable(f"`dpkg-deb -x {deb.name}` failed:\n{unpacked.stderr}")
    staging = bin_dir() / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for command in COMMANDS:
        source = tree / "usr" / "bin" / command
        if not source.is_file():
            raise PrometheusUnavailable(f"{deb.name} has no usr/bin/{command}")
        shutil.copy2(source, staging / command)
        (staging / command).chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover of an older layout
    try:
        staging.rename(target)
    except OSError:
        # Another process installed the same version at the same moment: theirs is as good.
        shutil.rmtree(staging, ignore_errors=True)
        if not _complete(target):
            raise
    return version


def _warn_if_unexpected(debian_version: str) -> None:
    upstream = upstream_version(debian_version)
    if upstream != versions.PROMETHEUS and not upstream.startswith(versions.PROMETHEUS + "."):
        warnings.warn(
            f"Prometheus {debian_version} is not the pinned {versions.PROMETHEUS}.x "
            "(hack/localcluster/versions.py); using it anyway",
            stacklevel=3,
        )


def ensure_prometheus_binaries() -> dict[str, Path]:
    """Fetch (or find in the cache) ``prometheus`` and ``promtool``; return their paths by name."""
    directory = _ensure_cached_directory()
    return {command: directory / command for command in COMMANDS}


# Once per process: asking apt for the candidate costs half a second, and every restart() asks.
@functools.cache
def _ensure_cached_directory() -> Path:
    candidate = _candidate_version()
    cached = _cached_versions()
    if candidate is not None and _complete(_cache_dir(candidate)):
        version = candidate
    elif candidate is None and cached:
        # apt knows no candidate (no package lists): what is cached is the best this machine has,
        # and an `apt-get update` against an archive that may be unreachable would only cost time.
        version = cached[0]
    else:
        try:
            with tempfile.TemporaryDirectory(prefix="modelops-prometheus-") as tmp:
                version = _unpack_into_cache(_download_deb(Path(tmp)), Path(tmp))
        except PrometheusUnavailable as exc:
            if not cached:
                raise
            warnings.warn(f"using the cached Prometheus {cached[0]}: {exc}", stacklevel=2)
            version = cached[0]
    _warn_if_unexpected(version)
    return _cache_dir(version)


def ensure_prometheus() -> Path:
    """The path of a cached ``prometheus`` binary (Debian's package, fetched on first use)."""
    return ensure_prometheus_binaries()["prometheus"]


def ensure_promtool() -> Path:
    """The path of the ``promtool`` shipped beside :func:`ensure_prometheus`'s binary."""
    return ensure_prometheus_binaries()["promtool"]
