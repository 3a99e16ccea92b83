"""``python -m modelops``: run the operator (cluster-wide, standalone, liveness on :8080).

Standalone, because kopf's peering is not leader election (kopf#734): the chart runs one replica
with ``strategy: Recreate``. ``--namespace`` limits the watch; ``--liveness`` moves the probe.
"""

from __future__ import annotations

import argparse
import logging
import sys

# kopf imports every Kubernetes client library it finds installed, to recognise their model objects
# (kopf._cogs.helpers.thirdparty): ~70 MiB of resident memory for kubernetes_asyncio, ~120 MiB with
# the official client too — most of an idle operator. modelops uses neither (modelops.k8s.rest), so
# its entry point hides them from kopf; kopf then logs in with its own kubeconfig/service-account
# readers. (Installed or not, as in the test virtualenv, they are never imported by the operator.)
for _library in ("kubernetes", "kubernetes_asyncio", "pykube"):
    sys.modules.setdefault(_library, None)  # type: ignore[arg-type]

import kopf  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops", description="Run the modelops operator.")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch only this namespace (repeatable); default: all namespaces")
    parser.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                        help="liveness endpoint URL (default: %(default)s)")
    parser.add_argument("--metrics", default="0.0.0.0:8081",
                        help="host:port of the operator's own Prometheus metrics; empty: none (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    import modelops.main  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose)
    quiet_at_rest(args.verbose)
    if args.metrics:
        from modelops import observability

        observability.serve(args.metrics)
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
    )
    return 0


# What repeats at rest, one INFO line each time, is lowered to WARNING (warnings and errors stay;
# --verbose brings everything back): kopf's per-object logger ``kopf.objects`` (every handler's
# success and every event processed: "Handler 'watch-rollouts' succeeded.", a line per watch event;
# warnings are also the only records kopf posts as Events, settings.posting.level), its liveness
# probe activity ("Activity 'alive' succeeded.") and aiohttp's access log of that probe.
AT_REST_LOGGERS = ("kopf.objects", "kopf.activities.probe", "aiohttp.access")


def quiet_at_rest(verbose: bool) -> None:
    """Lower the loggers that repeat at rest to WARNING (DEBUG with ``--verbose``)."""
    for name in AT_REST_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
