"""Suite-wide guards: a tier that collected nothing, or any skipped test, fails the run.

``make test`` sets ``MODELOPS_REQUIRE_TIERS`` to every tier it runs (unit, harness, integration...).
A real part that cannot start must fail loudly, so a skip is never an acceptable outcome of the
full suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The fixtures on real parts, registered once for every tier (one cluster per session).
pytest_plugins = ["tests.support.fixtures"]

TESTS = Path(__file__).parent
# Tiers that need the local control plane; each gets the marker of its name.
REAL_TIERS = ("integration", "harness", "e2e", "chaos")
_collected: dict[str, int] = {}
_skipped: list[str] = []


def _required() -> list[str]:
    raw = os.environ.get("MODELOPS_REQUIRE_TIERS", "")
    return [tier for tier in raw.split(",") if tier]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        _collected[tier] = _collected.get(tier, 0) + 1
        if tier in REAL_TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    required = _required()
    if not required:
        return
    empty = [tier for tier in required if not _collected.get(tier)]
    problems = []
    if empty:
        problems.append(f"tiers that collected no test: {empty}")
    if _skipped:
        problems.append(f"skipped tests are defects here: {_skipped}")
    if problems:
        print("\nMODELOPS_REQUIRE_TIERS: " + "; ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
