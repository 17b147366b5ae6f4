"""Many clusters: `destination.cluster` names a Secret in the controller namespace holding a
kubeconfig; the Application's objects go to that cluster (a second real control plane), its status
stays on the controller's; drift there is corrected too; an unknown cluster is refused clearly."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.devcluster import cluster as devcluster
from gitward.kube.client import KubeClient

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITWARD_TEST_KUBECONFIG")), reason="starts a second embedded control plane"
)
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote-cm\n  namespace: default\ndata:\n  a: b\n"


@pytest.fixture(scope="module")
async def second_cluster() -> AsyncIterator[tuple[devcluster.ClusterInfo, KubeClient]]:
    state = Path(tempfile.mkdtemp(prefix="gitward-second-cluster-"))
    try:
        info = devcluster.up(state, nodes=1, log=False)
        client = KubeClient.connect(info.kubeconfig)
        yield info, client
        await client.close()
    finally:
        devcluster.down(state)
        shutil.rmtree(state, ignore_errors=True)


def embedded_kubeconfig(info: devcluster.ClusterInfo) -> str:
    ca = (Path(info.state_dir) / "pki" / "ca.crt").read_bytes()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "b", "cluster": {"server": info.server,
                                                   "certificate-authority-data": base64.b64encode(ca).decode()}}],
            "users": [{"name": "b", "user": {"token": info.admin_token}}],
            "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
            "current-context": "b",
        }
    )  # fmt: skip


async def test_application_deploys_to_a_named_cluster(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    second_cluster: tuple[devcluster.ClusterInfo, KubeClient],
) -> None:
    info, remote = second_cluster
    data = {"kubeconfig": base64.b64encode(embedded_kubeconfig(info).encode()).decode()}
    meta = {"name": "cluster-b", "namespace": namespace}
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo, "remote.git")
    app = apps.application("remote", namespace, url)
    app["spec"]["destination"] = {"cluster": "cluster-b", "namespace": "default"}
    await kube.create(app)

    await apps.wait_status(kube, namespace, "remote", apps.synced_at(sha))
    assert await remote.get_or_none("v1", "ConfigMap", "remote-cm", "default") is not None
    assert await kube.get_or_none("v1", "ConfigMap", "remote-cm", "default") is None

    await remote.patch("v1", "ConfigMap", "remote-cm", "default", {"data": {"a": "changed"}})
    await apps.wait_for(lambda: _reverted(remote), timeout=20, message="drift on the remote cluster reverted")


async def _reverted(remote: KubeClient) -> bool:
    return (await remote.get("v1", "ConfigMap", "remote-cm", "default"))["data"] == {"a": "b"}


async def test_unknown_cluster_is_refused(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP})
    app = apps.application("lost", namespace, git_http_server.publish(repo, "lost.git"))
    app["spec"]["destination"] = {"cluster": "nowhere", "namespace": "default"}
    await kube.create(app)

    def refused(s: apps.Status) -> bool:
        cond = apps.condition(s, "ValidationError")
        return cond is not None and cond["reason"] == "ClusterNotFound"

    status = await apps.wait_status(kube, namespace, "lost", refused)
    assert "nowhere" in apps.condition(status, "ValidationError")["message"]  # type: ignore[index]
