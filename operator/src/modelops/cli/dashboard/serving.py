"""``kubectl modelops dashboard``: an aiohttp server on 127.0.0.1 (``--address``, ``--port``) that
gathers and renders on every ``GET /`` (``GET /healthz`` answers ``ok``); any other method is
refused by the router (405). It holds one API-server connection with the kubeconfig's identity
(``--kubeconfig``, ``--context``, ``-n``/``-A``) and only ever reads through it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from aiohttp import web

from modelops.cli.cluster import add_connection_arguments, credentials
from modelops.cli.dashboard import gathering, page
from modelops.k8s.rest import RestClient
from modelops.k8s.session import KubeSession

DEFAULT_PORT = 3100  # kubectl argo rollouts dashboard's


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="Rollouts of every namespace")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--prometheus", default=None,
                        help="Prometheus URL: each check's measurements and the weights over the last hour")
    parser.add_argument("--mlflow-uri", default=None, help="MLflow tracking server, for the runs in the lineage")
    parser.add_argument("--refresh", type=int, default=10, help="seconds between page reloads (default 10)")


def make_app(sources: gathering.Sources, refresh: int) -> web.Application:
    async def index(_: web.Request) -> web.Response:
        board = await gathering.gather(sources)
        return web.Response(text=page.render(board, datetime.now(UTC), refresh), content_type="text/html")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def closing(_: web.Application) -> None:
        await sources.close()

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.on_cleanup.append(closing)
    return app


async def serve(args: argparse.Namespace) -> None:
    creds = credentials(args)
    session = KubeSession(RestClient(creds, timeout=30.0))
    mlflow = None
    if args.mlflow_uri:
        from modelops.registry.mlflow import MLflowClient

        mlflow = MLflowClient(args.mlflow_uri)
    namespace = None if args.all_namespaces else (args.namespace or creds.namespace)
    sources = gathering.Sources(session, namespace, mlflow=mlflow, prometheus=args.prometheus)
    runner = web.AppRunner(make_app(sources, args.refresh), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.address, args.port)
        await site.start()
        print(f"modelops dashboard on http://{args.address}:{args.port}/ ({namespace or 'all namespaces'}); "
              "Ctrl-C stops it", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(args: argparse.Namespace) -> int:
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
