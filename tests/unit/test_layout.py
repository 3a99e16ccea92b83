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


def test_every_kopf_handler_is_async() -> None:
    """kopf runs a sync handler in a worker thread, where waking the event loop's objects is not
    safe (an ``asyncio.Event.set()`` from there can be lost): every handler the operator registers
    is ``async def``, so none can touch the loop from the wrong thread."""
    import ast

    offenders = []
    for path in (REPO / "operator" / "src" / "modelops" / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target).startswith("kopf."):
                    offenders.append(f"{path.name}:{node.lineno} {node.name}")
    assert offenders == [], f"sync kopf handlers: {offenders}"


def test_every_package_docstring_says_what_the_package_owns() -> None:
    """Not a placeholder, not just the package's name: a newcomer opening the package learns what
    is in it (at least a sentence)."""
    import ast

    thin = []
    roots = [REPO / "operator" / "src" / "modelops", REPO / "hack" / "localcluster"]
    for init in [p for root in roots for p in root.rglob("__init__.py")]:
        text = (ast.get_docstring(ast.parse(init.read_text())) or "").strip()
        if len(text.split()) < 8 or text.lower().rstrip(".") in {"placeholder", init.parent.name}:
            thin.append(f"{init.relative_to(REPO)}: {text!r}")
    assert thin == [], "package docstrings that do not say what the package owns: " + "; ".join(thin)
