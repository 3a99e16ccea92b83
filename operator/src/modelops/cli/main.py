"""Entry point of the ``modelops`` / ``kubectl modelops`` command.

- ``modelops lineage <modelversion> [-n NS] [--mlflow-uri URI] [-o text|json]``: the whole chain
  behind a model (ModelVersion -> TrainingRun -> MLflow run -> data, code, image);
- ``modelops trace <request-id> | --key COLUMN=VALUE --since T``: a logged prediction, the
  ModelVersion and rollout stage that served it, and that version's lineage (see cli/trace.py);
- ``modelops version``; ``modelops run`` (the operator, like ``python -m modelops``);
- the Rollout commands (``cli/rollouts.py``): ``list``, ``status [--watch]``, ``history``,
  ``promote [--full]``, ``approve STEP``, ``pause``, ``resume``, ``abort``, ``retry``,
  ``rollback [VERSION]`` — the day-2 operations, each one patch ``--dry-run`` prints;
- ``modelops dashboard [-p 3100] [--prometheus URL]``: a local, read-only web page (cli/dashboard).

Installed twice: ``modelops`` and ``kubectl-modelops`` (so ``kubectl modelops status fraud`` works).
Exit codes: 0 done, 1 error or refusal, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib.metadata import version


def main(argv: list[str] | None = None) -> int:
    prog = "kubectl modelops" if os.path.basename(sys.argv[0]).startswith("kubectl-") else "modelops"
    parser = argparse.ArgumentParser(prog=prog, description="The modelops ML lifecycle operator.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version and the API this build serves")
    run = sub.add_parser("run", help="run the operator (same as `python -m modelops`)")
    run.add_argument("rest", nargs=argparse.REMAINDER)
    lineage = sub.add_parser("lineage", help="print the chain behind a ModelVersion")
    lineage.add_argument("modelversion")
    lineage.add_argument("-n", "--namespace", default=None, help="namespace (default: the kubeconfig's)")
    lineage.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                         help="MLflow tracking server (default: $MLFLOW_TRACKING_URI)")
    lineage.add_argument("-o", "--output", choices=["text", "json"], default="text")
    from modelops.cli.trace import add_arguments

    add_arguments(sub.add_parser("trace", help="a logged prediction, the version that served it and its lineage"))
    from modelops.cli import rollouts
    from modelops.cli.dashboard import serving

    rollouts.add_commands(sub)
    serving.add_arguments(sub.add_parser("dashboard", help="a local, read-only web page over the Rollouts"))
    args = parser.parse_args(argv)

    if args.command in (*rollouts.READERS, *rollouts.ACTIONS):
        return rollouts.main(args)
    if args.command == "dashboard":
        return serving.main(args)
    if args.command == "version":
        from modelops.api import API_VERSION

        print(f"modelops {version('modelops')}")
        print(f"api {API_VERSION}: TrainingRun, ModelVersion, Rollout, DriftMonitor")
        return 0
    if args.command == "lineage":
        return asyncio.run(_lineage(args))
    if args.command == "trace":
        from modelops.cli.trace import run as run_trace

        return asyncio.run(run_trace(args))
    if args.command == "run":
        from modelops.__main__ import main as run_operator

        return run_operator(args.rest)
    return 2


async def _lineage(args: argparse.Namespace) -> int:
    from modelops.cli.lineage import gather, render_json, render_text
    from modelops.k8s.session import KubeSession, current_namespace
    from modelops.registry.mlflow import MLflowClient

    session = await KubeSession.connect()
    mlflow = MLflowClient(args.mlflow_uri) if args.mlflow_uri else None
    try:
        namespace = args.namespace or current_namespace()
        try:
            result = await gather(session, mlflow, namespace, args.modelversion)
        except LookupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(render_json(result) if args.output == "json" else render_text(result))
        return 0
    finally:
        await session.close()
        if mlflow is not None:
            await mlflow.close()


if __name__ == "__main__":
    sys.exit(main())
