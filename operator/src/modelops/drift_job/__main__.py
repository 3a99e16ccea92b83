"""``python -m modelops.drift_job --namespace NS --monitor NAME``: one evaluation of a DriftMonitor.

Options: ``--logs URI`` (default ``$MODELOPS_LOGS_URI``: the log sink's store, a directory or
``s3://…``), ``--reports URI`` (default ``<logs>/_reports``), ``--kubeconfig PATH`` (default: the
Pod's service account, else ``$KUBECONFIG``), ``--shards N`` with ``$JOB_COMPLETION_INDEX`` (an
Indexed Job; the run id is ``$MODELOPS_RUN_ID`` or ``$JOB_NAME``), ``--min-rows`` (default 100).

Exit codes: 0 judged (Drift or NoDrift), 3 Inconclusive (too little data; status written), 2 the
DriftMonitor does not exist, 1 any other failure — one line on stderr, no traceback for the
expected ones.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from modelops.drift_job.running import Exit, Options

ENV_LOGS = "MODELOPS_LOGS_URI"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m modelops.drift_job", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True, help="namespace of the DriftMonitor")
    parser.add_argument("--monitor", required=True, help="name of the DriftMonitor")
    parser.add_argument("--logs", default=os.environ.get(ENV_LOGS), help=f"log sink store (default ${ENV_LOGS})")
    parser.add_argument("--reports", help="where sketches, partials and reports go (default <logs>/_reports)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG)")
    parser.add_argument("--shards", type=int, default=1, help="shards of an Indexed Job (default 1)")
    parser.add_argument("--min-rows", type=int, default=100, help="fewer rows is Inconclusive (default 100)")
    parser.add_argument("--shard-timeout", type=float, default=600.0,
                        help="seconds shard 0 waits for the others' partials (default 600)")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


async def _main(options: Options) -> Exit:
    from modelops.drift_job.running import run
    from modelops.k8s.session import KubeSession

    session = await KubeSession.connect()
    try:
        return await run(options, session)
    finally:
        await session.close()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiohttp", "botocore", "s3fs", "fsspec", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not args.logs:
        print(f"modelops-drift-job: no log store: give --logs or set ${ENV_LOGS}", file=sys.stderr)
        return Exit.FAILED
    if args.shards < 1:
        print("modelops-drift-job: --shards must be at least 1", file=sys.stderr)
        return Exit.FAILED
    raw_index = os.environ.get("JOB_COMPLETION_INDEX", "0") or "0"
    if not raw_index.isdigit() or int(raw_index) >= args.shards:
        print(f"modelops-drift-job: JOB_COMPLETION_INDEX={raw_index!r} is not a shard of --shards {args.shards}",
              file=sys.stderr)
        return Exit.FAILED
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    options = Options(namespace=args.namespace, monitor=args.monitor, logs=args.logs,
                      reports=args.reports or args.logs.rstrip("/") + "/_reports", shards=args.shards,
                      index=int(raw_index), min_rows=args.min_rows, shard_timeout=args.shard_timeout)
    from modelops.drift_job.cluster import ModelNotResolved, MonitorNotFound
    from modelops.drift_job.counting import ShardsMissing
    from modelops.drift_job.reference import ReferenceUnavailable
    from modelops.k8s.errors import KubeError
    from modelops.k8s.login import LoginError

    try:
        return int(asyncio.run(_main(options)))
    except MonitorNotFound as error:
        print(f"modelops-drift-job: {error}", file=sys.stderr)
        return Exit.NOT_FOUND
    except (ModelNotResolved, ReferenceUnavailable, ShardsMissing, KubeError, LoginError) as error:
        print(f"modelops-drift-job: {error}", file=sys.stderr)
        return Exit.FAILED
    except Exception as error:  # anything unexpected: one line, and the traceback at debug level
        logging.getLogger("modelops.drift_job").debug("unexpected failure", exc_info=True)
        print(f"modelops-drift-job: {type(error).__name__}: {error}", file=sys.stderr)
        return Exit.FAILED


if __name__ == "__main__":
    sys.exit(main())
