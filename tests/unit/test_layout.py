"""Layout guards: nothing importable directly in operator/ (a package named `operator` would
shadow the standard library's `operator` module and break `import collections` on 3.12+)."""

from __future__ import annotations

import importlib
import operator as stdlib_operator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_python_directly_in_operator_dir() -> None:
    offenders = [p.name for p in (REPO / "operator").iterdir() if p.suffix == ".py"]
    assert offenders == [], f"never put .py files directly in operator/: {offenders}"
    assert not (REPO / "operator" / "__init__.py").exists()


def test_stdlib_operator_is_not_shadowed() -> None:
    # The standard library's module is a single file in the stdlib directory, not a package.
    assert hasattr(stdlib_operator, "itemgetter")
    assert Path(stdlib_operator.__file__).name == "operator.py"
    assert not Path(stdlib_operator.__file__).resolve().is_relative_to(REPO)


def test_package_imports_from_operator_src() -> None:
    modelops = importlib.import_module("modelops")
    assert Path(modelops.__file__).resolve().is_relative_to(REPO / "operator" / "src" / "modelops")


def test_every_module_opens_with_a_docstring() -> None:
    missing = []
    for path in (REPO / "operator" / "src" / "modelops").rglob("*.py"):
        source = path.read_text().lstrip()
        if not source.startswith(('"""', "'''", 'r"""')):
            missing.append(str(path.relative_to(REPO)))
    assert missing == []
