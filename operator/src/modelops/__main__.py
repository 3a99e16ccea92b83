"""``python -m modelops``: run the operator (cluster-wide, standalone, liveness on :8080).

Standalone, because kopf's peering is not leader election (kopf#734). ``--namespace`` and
``--selector`` make the replica's shard (``core.sharding``); ``--shard NAME`` adds leader election on
the Lease ``modelops-shard-NAME`` (``reconcilers.leading``): kopf starts only once the Lease is held,
and the process exits when it can no longer renew it, so several replicas of one shard may run and
exactly one acts. Without ``--shard`` it runs at once, alone (the chart's single-replica default).
``--liveness`` moves the probe.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import uuid
from typing import TYPE_CHECKING

# kopf imports every Kubernetes client library it finds installed, to recognise their model objects
# (kopf._cogs.helpers.thirdparty): ~70 MiB of resident memory for kubernetes_asyncio, ~120 MiB with
# the official client too — most of an idle operator. modelops uses neither (modelops.k8s.rest), so
# its entry point hides them from kopf; kopf then logs in with its own kubeconfig/service-account
# readers. (Installed or not, as in the test virtualenv, they are never imported by the operator.)
for _library in ("kubernetes", "kubernetes_asyncio", "pykube"):
    sys.modules.setdefault(_library, None)  # type: ignore[arg-type]

import kopf  # noqa: E402

if TYPE_CHECKING:
    from modelops.core.leasing import Timing
    from modelops.reconcilers.leading import Elector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops", description="Run the modelops operator.")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="watch only this namespace (repeatable); default: all namespaces")
    parser.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                        help="liveness endpoint URL (default: %(default)s)")
    parser.add_argument("--metrics", default="0.0.0.0:8081",
                        help="host:port of the operator's own Prometheus metrics; empty: none (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true")
    shard = parser.add_argument_group("sharding and leader election (README: Sharding and high availability)")
    shard.add_argument("--selector", default="",
                       help="own only objects whose labels match this equality-based selector, e.g. "
                            "modelops.io/shard=a, or !modelops.io/shard (the unlabelled ones)")
    shard.add_argument("--shard", default="",
                       help="elect one active replica of this shard on the Lease modelops-shard-SHARD")
    shard.add_argument("--lease-namespace", default=os.environ.get("POD_NAMESPACE", ""),
                       help="namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig's)")
    shard.add_argument("--identity", default=os.environ.get("POD_NAME", ""),
                       help="this replica's name in the Lease (default: $POD_NAME, else host_pid_random)")
    shard.add_argument("--lease-duration", type=float, default=15.0)
    shard.add_argument("--renew-deadline", type=float, default=10.0)
    shard.add_argument("--retry-period", type=float, default=2.0)
    args = parser.parse_args(argv)
    from modelops.core.leasing import Timing
    from modelops.core.sharding import Shard
    try:
        own = Shard.of(args.shard, args.namespace, args.selector)
        timing = Timing(args.lease_duration, args.renew_deadline, args.retry_period)
    except ValueError as error:
        parser.error(str(error))

    import modelops.main  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose)
    quiet_at_rest(args.verbose)
    if args.metrics:
        from modelops import observability

        observability.serve(args.metrics)
    elector = _elect(own.name, args, timing) if own.name else None
    try:
        kopf.run(
            standalone=True,
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness,
            memo=kopf.Memo(shard=own, elector=elector),
        )
    finally:
        if elector is not None:
            elector.release()
    return 0


def _elect(shard: str, args: argparse.Namespace, timing: Timing) -> Elector:
    """Block until this replica leads ``shard``; the process exits the moment it stops leading."""
    from modelops.k8s.session import current_namespace
    from modelops.reconcilers.leading import Elector

    def lost(why: str) -> None:
        logging.getLogger("modelops.leading").critical("lost the lead of shard %s: %s; exiting", shard, why)
        logging.shutdown()
        os._exit(3)  # at once: no reconcile, no kopf cleanup write after the deadline

    identity = args.identity or f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    elector = Elector(shard, args.lease_namespace or current_namespace(), identity, timing, lost)
    logging.getLogger("modelops.leading").warning("standby for shard %s as %s", shard, identity)
    elector.run_until_leading(args.liveness)
    return elector


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
