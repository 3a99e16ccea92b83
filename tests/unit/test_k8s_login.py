"""``modelops.k8s.login``: the kubeconfig read the way kubectl reads it (merged files, the current
context, relative file paths, data fields, tokens, exec credential plugins)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
import yaml

from modelops.k8s import login


def _kubeconfig(path: Path, user: dict, *, context_ns: str | None = "ml") -> Path:  # type: ignore[type-arg]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "here", "context": {"cluster": "c", "user": "u",
                                                  **({"namespace": context_ns} if context_ns else {})}}],
    }))
    return path


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_a_token_user_and_a_relative_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "config", {"token": "s3cret"})))
    found = login.load()
    assert found.server == "https://127.0.0.1:6443" and found.namespace == "ml"
    assert found.ca_file == str(tmp_path / "ca.crt") and found.headers() == {"Authorization": "Bearer s3cret"}


def test_client_certificate_data_lands_in_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode()}
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "config", user, context_ns=None)))
    found = login.load()
    assert Path(found.cert_file or "").read_bytes() == b"CERT" and Path(found.key_file or "").read_bytes() == b"KEY"
    assert oct(Path(found.key_file or "").stat().st_mode & 0o777) == "0o600" and found.namespace == "default"


def test_an_exec_plugin_gives_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json, os\nprint(json.dumps({'status': {'token': os.environ['TOKEN']}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "env": [{"name": "TOKEN", "value": "from-exec"}]}}
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "config", user)))
    assert login.load().token == "from-exec"


def test_the_first_file_to_name_something_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _kubeconfig(tmp_path / "a", {"token": "first"})
    second = tmp_path / "b"
    second.write_text(json.dumps({"users": [{"name": "u", "user": {"token": "second"}}], "current-context": "x"}))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert login.load().token == "first"


def test_nothing_to_log_in_with_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(login.LoginError, match="missing"):
        login.load()


def test_a_named_context_is_used_instead_of_the_current_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``kubectl modelops --context NAME``: that context's cluster, user and namespace."""
    first = _kubeconfig(tmp_path / "a", {"token": "first"})
    second = tmp_path / "b"
    second.write_text(json.dumps({"contexts": [{"name": "staging", "context": {
        "cluster": "c", "user": "u", "namespace": "staging-ml"}}]}))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert login.load("staging").namespace == "staging-ml" and login.load().namespace == "ml"
    with pytest.raises(login.LoginError, match="context 'nope' is not defined"):
        login.load("nope")
