"""The local control plane stops every process it started, also when the body raises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localcluster.cluster import LocalCluster, alive


class Boom(Exception):
    pass


def test_every_process_stops_when_the_body_raises(tmp_path: Path, cluster: LocalCluster) -> None:
    # `cluster` is requested so the binaries are built once, before this second cluster starts.
    pids: dict[str, int] = {}
    with pytest.raises(Boom), LocalCluster(tmp_path / "second", install_crds=False) as second:
        pids = {name: proc.pid for name, proc in second.processes.items()}
        assert sorted(pids) == sorted(
            ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
        )
        assert all(alive(pid) for pid in pids.values())
        raise Boom()
    assert pids
    still_running = {name: pid for name, pid in pids.items() if alive(pid)}
    assert still_running == {}
    assert not (tmp_path / "second" / "state.json").exists()


def test_component_versions_are_the_pinned_ones(cluster: LocalCluster) -> None:
    from kubernetes import client, config

    from localcluster import versions

    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        info = client.VersionApi(api).get_code()
    finally:
        api.close()
    assert info.git_version == versions.KUBERNETES
    assert os.path.exists(cluster.directory / "kubeconfig")
