"""Headless Chromium for the dashboard test, from Debian's ``chromium`` package, never installed
system-wide and without root: ``apt-get download`` fetches ``chromium``, ``chromium-common`` and
every library package they need that this machine lacks (the ``Depends`` walked from them: plain
``lib*`` dependencies, not installed, not alternatives — GTK and the desktop portals are optional
in headless mode), ``dpkg-deb -x`` unpacks them into
``${XDG_CACHE_HOME:-~/.cache}/modelops/chromium-<Debian version>/`` (one rename: a half-unpacked
tree is never taken for a cached one), and ``ldd`` proves the binary resolves every library with
``LD_LIBRARY_PATH`` pointing into that tree. Keyed by the exact version apt offers.

``ensure_chromium()`` returns a :class:`Chromium` whose ``command(...)`` runs it; any failure raises
:class:`ChromiumUnavailable` with apt's or ldd's own words (the test that needs it fails loudly).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from localcluster.building import cache_root

PACKAGES = ("chromium", "chromium-common")
BINARY = Path("usr/lib/chromium/chromium")
_DEPENDS = re.compile(r"^(?:Pre-Depends|Depends): (.*)$", re.MULTILINE)


class ChromiumUnavailable(RuntimeError):
    """Chromium could not be had or cannot start; the message carries the tool's own error."""


@dataclass(frozen=True)
class Chromium:
    root: Path
    version: str

    @property
    def binary(self) -> Path:
        return self.root / BINARY

    def env(self) -> dict[str, str]:
        paths = [str(p) for p in _library_dirs(self.root)]
        previous = os.environ.get("LD_LIBRARY_PATH")
        return {**os.environ, "LD_LIBRARY_PATH": ":".join([*paths, *([previous] if previous else [])])}

    def command(self, *args: str, profile: Path) -> list[str]:
        """A headless run with a throwaway profile (no sandbox: no root, no setuid helper here)."""
        return [str(self.binary), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                f"--user-data-dir={profile}", *args]


def _run(cmd: list[str], cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True, stdin=subprocess.DEVNULL)


def candidate_version() -> str:
    proc = _run(["apt-cache", "policy", PACKAGES[0]])
    match = re.search(r"^\s*Candidate:\s*(\S+)", proc.stdout, flags=re.MULTILINE)
    if proc.returncode != 0 or match is None or match.group(1) == "(none)":
        raise ChromiumUnavailable(f"apt knows no candidate for `chromium` (apt-cache policy):\n{proc.stdout}"
                                  f"{proc.stderr}\nthe dashboard test needs Debian's chromium package")
    return match.group(1)


def cache_dir(version: str) -> Path:
    return cache_root() / f"chromium-{version}"


def _library_dirs(root: Path) -> list[Path]:
    found = [root / "usr/lib/chromium"]
    for base in (root / "usr/lib", root / "lib"):
        if base.is_dir():
            found += [base, *(p for p in base.glob("*-linux-gnu*") if p.is_dir())]
            found += [p.parent for p in base.glob("*-linux-gnu*/*/lib*.so*")]
    return sorted(set(found))


def _installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], text=True, capture_output=True)
    return proc.stdout == "installed"


def _depends(package: str, version: str | None = None) -> list[str]:
    spec = f"{package}={version}" if version else package
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", spec], text=True, capture_output=True)
    if proc.returncode != 0:
        raise ChromiumUnavailable(f"`apt-cache show {spec}` failed:\n{proc.stderr}")
    names = []
    for line in _DEPENDS.findall(proc.stdout):
        for group in line.split(","):
            alternatives = [a.strip().split()[0].split(":")[0] for a in group.split("|")]
            if len(alternatives) == 1:
                names.append(alternatives[0])
    return names


def packages_needed(version: str) -> list[str]:
    """chromium, chromium-common, and the library packages below them this machine lacks."""
    todo, seen, wanted = [*PACKAGES], set(PACKAGES), []
    while todo:
        package = todo.pop(0)
        wanted.append(package)
        for dependency in _depends(package, version if package in PACKAGES else None):
            if dependency in seen or not dependency.startswith("lib"):
                continue
            seen.add(dependency)
            if not _installed(dependency):
                todo.append(dependency)
    return wanted


def _download(packages: list[str], version: str, workdir: Path) -> list[Path]:
    names = [f"{p}={version}" if p in PACKAGES else p for p in packages]
    proc = _run(["apt-get", "download", *names], cwd=workdir)
    if proc.returncode != 0:
        raise ChromiumUnavailable(f"`apt-get download {' '.join(names)}` failed ({proc.returncode}):\n"
                                  f"{proc.stdout}\n{proc.stderr}")
    debs = sorted(workdir.glob("*.deb"))
    if len(debs) != len(packages):
        raise ChromiumUnavailable(f"asked apt for {len(packages)} packages, got {[d.name for d in debs]}")
    return debs


def missing_libraries(root: Path) -> list[str]:
    """What ``ldd`` cannot resolve for the binary with the tree's library directories."""
    chromium = Chromium(root, "")
    proc = _run(["ldd", str(chromium.binary)], env=chromium.env())
    if proc.returncode != 0:
        raise ChromiumUnavailable(f"`ldd {chromium.binary}` failed:\n{proc.stdout}{proc.stderr}")
    return [line.split()[0] for line in proc.stdout.splitlines() if "not found" in line]


def _install(version: str) -> Path:
    target = cache_dir(version)
    with tempfile.TemporaryDirectory(prefix="modelops-chromium-") as tmp:
        debs = _download(packages_needed(version), version, Path(tmp))
        staging = target.parent / f".{target.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for deb in debs:
            unpacked = _run(["dpkg-deb", "-x", str(deb), str(staging)])
            if unpacked.returncode != 0:
                raise ChromiumUnavailable(f"`dpkg-deb -x {deb.name}` failed:\n{unpacked.stderr}")
        missing = missing_libraries(staging)
        if missing:
            raise ChromiumUnavailable(f"chromium {version} unpacked in {staging} still misses {missing} "
                                      f"(packages fetched: {[d.name for d in debs]})")
        (staging / "packages.txt").write_text("\n".join(d.name for d in debs) + "\n")
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process installed it meanwhile
            if not (target / BINARY).is_file():
                raise
    return target


@functools.cache
def ensure_chromium() -> Chromium:
    """Fetch (or find in the cache) Debian's Chromium; prove it starts (``--version``)."""
    version = candidate_version()
    root = cache_dir(version)
    if not (root / "packages.txt").is_file():
        root = _install(version)
    chromium = Chromium(root, version)
    proc = _run([str(chromium.binary), "--headless", "--no-sandbox", "--version"], env=chromium.env())
    if proc.returncode != 0 or "Chromium" not in proc.stdout:
        raise ChromiumUnavailable(f"{chromium.binary} --version failed ({proc.returncode}):\n"
                                  f"{proc.stdout}{proc.stderr}")
    return chromium


if __name__ == "__main__":
    found = ensure_chromium()
    print(f"chromium {found.version} {found.binary}")
