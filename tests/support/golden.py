"""Golden files (tests/unit/golden/*.yaml): what a pure builder produces, pinned for review. A run
with ``UPDATE_GOLDEN=1`` rewrites them from the code; review the diff by eye before committing it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "golden"


def assert_golden(case: str, produced: Any) -> None:
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(produced, sort_keys=False, default_flow_style=False, width=120))
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1 and review the file"
    assert produced == yaml.safe_load(path.read_text())
