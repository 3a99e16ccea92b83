"""Entry point of the ``modelops`` / ``kubectl modelops`` command.

Sub-commands arrive with the capabilities that need them (``lineage`` with ModelVersion,
``rollback`` with Rollout); today it runs the operator and prints what it is.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from modelops.api import API_VERSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelops", description="The modelops ML lifecycle operator.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version and the API this build serves")
    run = sub.add_parser("run", help="run the operator (same as `python -m modelops`)")
    run.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.command == "version":
        print(f"modelops {version('modelops')}")
        print(f"api {API_VERSION}: TrainingRun, ModelVersion, Rollout, DriftMonitor")
        return 0
    if args.command == "run":
        from modelops.__main__ import main as run_operator

        return run_operator(args.rest)
    return 2


if __name__ == "__main__":
    sys.exit(main())
