"""KServe's scikit-learn runtime on this machine: what its image holds, without the image.

KServe v0.20.0 builds ``kserve-sklearnserver`` (``python/sklearn.Dockerfile``) as a virtualenv with
the ``kserve`` and ``kserve-storage`` packages and scikit-learn, plus the ``sklearnserver`` sources
put on ``PYTHONPATH`` (``ENV PYTHONPATH=/sklearnserver``, ``ENTRYPOINT ["python", "-m",
"sklearnserver"]``). ``sklearnserver`` is not published on PyPI, so its sources are read from KServe's
Go module at the pinned version (the module cache holds the whole repository, as it does for the
CRDs); the rest is installed from PyPI on first use into a virtualenv cached outside the repo, under
``${XDG_CACHE_HOME:-~/.cache}/modelops/venvs/``, keyed by KServe's version, the Python version and
a hash of the requirements.

Why a virtualenv of its own, not the project's: ``kserve`` (every release up to 0.21.0) requires
``cloudevents<2``, the prediction-log sink (``modelops[logsink]``, pulled by ``[dev]``) the 2.x API
(``cloudevents.core``), and pip refuses to install both. A predictor image is a separate environment
in production too. The requirements are the ``[serve]`` extra of pyproject.toml, plus the
scikit-learn, NumPy, SciPy and joblib of the environment that trains the models (this one), pinned
exactly: a pickled estimator is only guaranteed to load into the versions that wrote it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from localcluster import building, versions

REPO = Path(__file__).resolve().parents[2]
# What a pickled scikit-learn estimator is bound to: the serving side gets the training side's versions.
PICKLE_BOUND = ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl")
COMPLETE = ".complete"


def serve_requirements() -> list[str]:
    """The ``[serve]`` extra, then the exact versions of what a pickle binds (they win over ranges)."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    try:
        pins = [f"{name}=={importlib.metadata.version(name)}" for name in PICKLE_BOUND]
    except importlib.metadata.PackageNotFoundError as missing:
        raise RuntimeError(f"{sys.executable} has no {missing.name}: the model servers get the training "
                           "environment's scikit-learn, so run this with the project's virtualenv (make install)") \
            from missing
    return [*extras["serve"], *pins]


def runtime_dir() -> Path:
    requirements = serve_requirements()
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:10]
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return building.cache_root() / "venvs" / f"kserve-{versions.KSERVE_MODULE[1]}-{python}-{digest}"


def sklearnserver_path() -> Path:
    """The directory to put on PYTHONPATH (the image's ``/sklearnserver``), inside the module cache."""
    return building.module_dir(*versions.KSERVE_MODULE) / "python" / "sklearnserver"


def runtime_python() -> Path:
    return runtime_dir() / "bin" / "python"


def ensure_runtime() -> Path:
    """The runtime's Python, its virtualenv created and filled on first use (a few minutes)."""
    directory = runtime_dir()
    if (directory / COMPLETE).exists():
        return runtime_python()
    shutil.rmtree(directory, ignore_errors=True)  # a half-made one from an interrupted run
    directory.parent.mkdir(parents=True, exist_ok=True)
    requirements = serve_requirements()
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", str(directory)],
        [str(runtime_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
    ]
    for step in steps:
        print(f"+ {' '.join(step)}", file=sys.stderr, flush=True)
        proc = subprocess.run(step, text=True, capture_output=True, env=_pip_env())
        if proc.returncode != 0:
            raise RuntimeError(f"KServe's sklearn runtime: {' '.join(step)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (directory / COMPLETE).write_text("\n".join(requirements) + "\n")
    return runtime_python()


def _pip_env() -> dict[str, str]:
    # The project's virtualenv must not leak into the runtime's (pip would see its packages).
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}


def runtime_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a model server runs with: the image's PYTHONPATH, nothing of this virtualenv.
    No bytecode is written, so the module cache (read-only for other users, writable for root) stays
    exactly what the module proxy served."""
    env = _pip_env() | {"PYTHONPATH": str(sklearnserver_path()), "PYTHONDONTWRITEBYTECODE": "1",
                        "PYTHONUNBUFFERED": "1"}
    return env | (extra or {})
