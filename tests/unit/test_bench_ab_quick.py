"""The A/B benchmark's quick mode (``bench/ab_test.py --quick``, what ``make bench-quick`` runs for
it) runs as one command and prints its tables: the benchmark cannot rot unnoticed between full
runs. The figures themselves are the benchmark's business (README, Performance), not this test's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_quick_mode_runs_and_prints_every_test_and_the_ratios() -> None:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "ab_test.py"), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for row in ("fixed z-test", "fixed z-test, peeked", "mSPRT tau=0.1", "mSPRT tau=d", "planned (GS)"):
        assert row in out
    assert "ratio to the fixed test of equal power, averaged over the effects and base rates" in out
    # one summary per sequential test, each with its A/A false-positive rate under peeking
    fprs = [float(m) for m in re.findall(r"A/A FPR ([0-9.]+)", out)]
    assert len(fprs) == 3 and all(0.0 <= f <= 1.0 for f in fprs)
