"""``python -m modelops``: run the operator (cluster-wide, standalone, liveness on :8080).

Standalone, because kopf's peering is not leader election (kopf#734): the chart runs one replica
with ``strategy: Recreate``. ``--namespace`` limits the watch; ``--liveness`` moves the probe.
"""

from __future__ import annotations

import argparse
import sys

import kopf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops", description="Run the modelops operator.")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch only this namespace (repeatable); default: all namespaces")
    parser.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                        help="liveness endpoint URL (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    import modelops.main  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose)
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
