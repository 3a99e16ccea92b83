"""Where the operator, its log sink and its CLI find the API server and their credentials, the way
kubectl does: the Pod's service account when in a cluster, else the current context of the
kubeconfig (``$KUBECONFIG``, several files allowed, or ``~/.kube/config``).

Kubeconfig users with a token, a client certificate (file or data), basic auth, or an ``exec``
credential plugin (``client.authentication.k8s.io`` ExecCredential, as cloud providers ship) are
understood; the CA by file or data, or ``insecure-skip-tls-verify``. Hand-written rather than
taken from a client library because the rest of the package needs none (``rest`` says why); kopf's
own readers would do, but would make the log sink and the CLI import kopf.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class LoginError(RuntimeError):
    """No usable credentials: the message says what was looked at."""


@dataclass(frozen=True)
class Credentials:
    server: str
    namespace: str = "default"
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    token: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https:"):
            return False
        cadata = self.ca_data.decode() if self.ca_data else None
        context = ssl.create_default_context(cafile=self.ca_file, cadata=cadata)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}


def load(context: str | None = None) -> Credentials:
    """In-cluster credentials, else the kubeconfig's current context (or ``context``, which
    always reads the kubeconfig, the way ``kubectl --context`` does)."""
    token = SERVICE_ACCOUNT / "token"
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if token.exists() and host and context is None:
        namespace_file = SERVICE_ACCOUNT / "namespace"
        return Credentials(
            server=f"https://{host}:{port}", token=token.read_text().strip(),
            ca_file=str(SERVICE_ACCOUNT / "ca.crt"),
            namespace=namespace_file.read_text().strip() if namespace_file.exists() else "default",
        )
    return from_kubeconfig(context)


def kubeconfig_paths() -> list[Path]:
    raw = os.environ.get("KUBECONFIG")
    if raw:
        return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _merged() -> dict[str, Any]:
    """The kubeconfig files merged the kubectl way: the first file to set a value wins."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None}
    found = False
    for path in kubeconfig_paths():
        if not path.exists():
            continue
        found = True
        data = yaml.safe_load(path.read_text()) or {}
        base = path.parent
        for section, item in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in data.get(section) or []:
                body = dict(entry.get(item) or {})
                body["_base"] = str(base)
                merged[section].setdefault(entry.get("name"), body)
        merged["current-context"] = merged["current-context"] or data.get("current-context")
    if not found:
        where = ", ".join(map(str, kubeconfig_paths()))
        raise LoginError(f"no in-cluster service account and no kubeconfig at {where}")
    return merged


def _file(value: str | None, base: str) -> str | None:
    return None if not value else str((Path(base) / value) if not os.path.isabs(value) else Path(value))


def _data_file(data: str) -> str:
    """A certificate or key given as data, written to a private file ssl can load (kept for the process)."""
    handle = tempfile.NamedTemporaryFile("wb", prefix="modelops-", delete=False)  # noqa: SIM115
    with handle:
        os.chmod(handle.name, 0o600)
        handle.write(base64.b64decode(data))
    return handle.name


def from_kubeconfig(context_name: str | None = None) -> Credentials:
    config = _merged()
    name = context_name or config["current-context"]
    context = config["contexts"].get(name)
    if context is None:
        which = "context" if context_name else "current context"
        raise LoginError(f"the kubeconfig's {which} {name!r} is not defined")
    cluster = config["clusters"].get(context.get("cluster")) or {}
    user = config["users"].get(context.get("user")) or {}
    if not cluster.get("server"):
        raise LoginError(f"the kubeconfig's cluster {context.get('cluster')!r} has no server")
    token = user.get("token")
    cert = _file(user.get("client-certificate"), user["_base"]) if user else None
    key = _file(user.get("client-key"), user["_base"]) if user else None
    if user.get("client-certificate-data"):
        cert = _data_file(user["client-certificate-data"])
    if user.get("client-key-data"):
        key = _data_file(user["client-key-data"])
    if user.get("exec"):
        token, cert, key = _exec(user["exec"], token, cert, key)
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=str(context.get("namespace") or "default"),
        ca_file=_file(cluster.get("certificate-authority"), cluster["_base"]),
        ca_data=base64.b64decode(cluster["certificate-authority-data"]) if cluster.get("certificate-authority-data")
        else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=token, cert_file=cert, key_file=key,
        username=user.get("username"), password=user.get("password"),
    )


def _exec(spec: dict[str, Any], token: str | None, cert: str | None,
          key: str | None) -> tuple[str | None, str | None, str | None]:
    """Run an exec credential plugin once (kubectl's client.authentication.k8s.io protocol)."""
    env = {**os.environ, **{item["name"]: item["value"] for item in spec.get("env") or []}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": spec.get("apiVersion"), "kind": "ExecCredential",
                                              "spec": {"interactive": False}})
    try:
        answer = subprocess.run([spec["command"], *(spec.get("args") or [])], env=env, capture_output=True,
                                text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise LoginError(f"the kubeconfig's exec credential plugin {spec.get('command')!r} failed: {error}") from error
    status = (json.loads(answer.stdout or "{}").get("status")) or {}
    if status.get("clientCertificateData") and status.get("clientKeyData"):
        cert = _pem_file(status["clientCertificateData"])
        key = _pem_file(status["clientKeyData"])
    return status.get("token") or token, cert, key


def _pem_file(pem: str) -> str:
    handle = tempfile.NamedTemporaryFile("w", prefix="modelops-", suffix=".pem", delete=False)  # noqa: SIM115
    with handle:
        os.chmod(handle.name, 0o600)
        handle.write(pem)
    return handle.name
