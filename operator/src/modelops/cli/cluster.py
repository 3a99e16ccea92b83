"""How the kubectl plugin reaches the cluster: kubectl's flags (``--kubeconfig``, ``--context``,
``-n``) turned into one connection through the project's own REST client (``modelops.k8s``), the
few reads the commands need (Rollouts, ModelVersions) and the one write: a merge patch of a
Rollout's ``spec`` under the field manager ``kubectl-modelops`` (so the Rollout's history names the
plugin as the actor). The CLI is the user: it may write spec; the operator never does.

Synchronous to its callers: each command is one ``asyncio.run`` of a short coroutine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from modelops.api import API_VERSION
from modelops.k8s import login, objects
from modelops.k8s.rest import MERGE_PATCH, RestClient
from modelops.k8s.session import KubeSession

FIELD_MANAGER = "kubectl-modelops"
T = TypeVar("T")


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", default=None, help="namespace (default: the kubeconfig context's)")
    parser.add_argument("--context", default=None, help="kubeconfig context to use (default: the current one)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")


@dataclass
class Cluster:
    """One connection and the namespace the command acts in."""

    session: KubeSession
    namespace: str

    async def rollout(self, name: str) -> dict[str, Any]:
        body = await objects.get(self.session, API_VERSION, "Rollout", self.namespace, name)
        if body is None:
            raise LookupError(f'rollouts.modelops.io "{name}" not found in namespace {self.namespace}')
        return body

    async def rollouts(self, all_namespaces: bool = False) -> list[dict[str, Any]]:
        found = await objects.list_objects(self.session, API_VERSION, "Rollout",
                                           None if all_namespaces else self.namespace)
        return sorted(found, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))

    async def model_version(self, name: str) -> dict[str, Any] | None:
        return await objects.get(self.session, API_VERSION, "ModelVersion", self.namespace, name)

    async def patch_rollout(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        resource = await self.session.resource(API_VERSION, "Rollout")
        answer: dict[str, Any] = await self.session.rest.request(
            "PATCH", resource.path(self.namespace, name), params={"fieldManager": FIELD_MANAGER}, body=body,
            content_type=MERGE_PATCH)
        return answer


def credentials(args: argparse.Namespace) -> login.Credentials:
    if getattr(args, "kubeconfig", None):
        os.environ["KUBECONFIG"] = args.kubeconfig
    return login.load(getattr(args, "context", None))


def run(args: argparse.Namespace, work: Callable[[Cluster], Awaitable[T]]) -> T:
    """Connect as kubectl would with ``args``' flags, run ``work``, close."""

    async def session() -> T:
        creds = credentials(args)
        kube = KubeSession(RestClient(creds, timeout=30.0))
        try:
            return await work(Cluster(kube, args.namespace or creds.namespace))
        finally:
            await kube.close()

    return asyncio.run(session())
