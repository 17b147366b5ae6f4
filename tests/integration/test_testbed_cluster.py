"""The test bed itself: the embedded control plane is a real Kubernetes API with working
controllers, scheduler and node simulator; kubectl and gitward's client both work against it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest
from tests.conftest import ClusterUnderTest

from gitward.devcluster import releases
from gitward.kube import errors
from gitward.kube.client import KubeClient


def _configmap(namespace: str, name: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def test_server_side_apply_creates_and_updates(kube: KubeClient, namespace: str) -> None:
    created = await kube.apply(_configmap(namespace, "cm", {"a": "1"}))
    assert created["data"] == {"a": "1"}
    updated = await kube.apply(_configmap(namespace, "cm", {"a": "2"}))
    assert updated["data"] == {"a": "2"}
    managers = {m["manager"] for m in updated["metadata"]["managedFields"]}
    assert "gitward" in managers


async def test_dry_run_writes_nothing(kube: KubeClient, namespace: str) -> None:
    result = await kube.apply(_configmap(namespace, "dry", {"a": "1"}), dry_run=True)
    assert result["metadata"]["name"] == "dry"
    assert await kube.get_or_none("v1", "ConfigMap", "dry", namespace) is None


async def test_dry_run_reports_invalid_objects(kube: KubeClient, namespace: str) -> None:
    bad = _configmap(namespace, "Not_A_Valid_Name", {"a": "1"})
    with pytest.raises(errors.APIInvalidError):
        await kube.apply(bad, dry_run=True)


async def test_watch_sees_changes(kube: KubeClient, namespace: str) -> None:
    _, version = await kube.list("v1", "ConfigMap", namespace)
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event in kube.watch("v1", "ConfigMap", namespace, resource_version=version):
            seen.append((event.type, event.object["metadata"]["name"]))
            if event.type == "DELETED":
                return

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await kube.apply(_configmap(namespace, "w", {"a": "1"}))
    await kube.apply(_configmap(namespace, "w", {"a": "2"}))
    await kube.delete("v1", "ConfigMap", "w", namespace)
    await asyncio.wait_for(task, 20)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_deployment_becomes_ready(kube: KubeClient, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    await kube.apply(deployment)
    status: dict[str, object] = {}
    for _ in range(300):
        status = (await kube.get("apps/v1", "Deployment", "web", namespace)).get("status") or {}
        if status.get("readyReplicas") == 3:
            break
        await asyncio.sleep(0.1)
    assert status.get("readyReplicas") == 3
    pods, _ = await kube.list("v1", "Pod", namespace)
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" and p["status"].get("podIP") for p in pods)
    # scale down: the node simulator completes the graceful deletion of the surplus pods
    await kube.patch("apps/v1", "Deployment", "web", namespace, {"spec": {"replicas": 1}})
    for _ in range(300):
        pods, _ = await kube.list("v1", "Pod", namespace)
        if len(pods) == 1:
            break
        await asyncio.sleep(0.1)
    assert len(pods) == 1


async def test_namespace_deletion_completes(kube: KubeClient) -> None:
    name = f"gwt-del-{os.getpid()}-{int(time.time())}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    await kube.apply(_configmap(name, "x", {"a": "1"}))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    for _ in range(100):  # the default ServiceAccount must exist before a pod is admitted
        try:
            await kube.create(pod)
            break
        except (errors.APIForbiddenError, errors.APIServerError):  # no ServiceAccount (token) yet
            await asyncio.sleep(0.1)
    await kube.delete("v1", "Namespace", name)
    gone = False
    for _ in range(600):
        if await kube.get_or_none("v1", "Namespace", name) is None:
            gone = True
            break
        await asyncio.sleep(0.1)
    assert gone, "namespace still terminating"


async def test_unprivileged_token_is_forbidden(test_cluster: ClusterUnderTest) -> None:
    if test_cluster.user_kubeconfig is None:
        pytest.skip("an existing cluster has no test-bed user")
    user = KubeClient.connect(test_cluster.user_kubeconfig)
    try:
        with pytest.raises(errors.APIForbiddenError):
            await user.list("v1", "Secret", "kube-system")
    finally:
        await user.close()


async def test_embedded_cluster_runs_the_selected_release(test_cluster: ClusterUnderTest, kube: KubeClient) -> None:
    """GITWARD_TEST_KUBERNETES (or the default) picks the release; /version reports exactly it."""
    if not test_cluster.embedded:
        pytest.skip("an existing cluster runs what it runs")
    release = releases.select()
    assert test_cluster.kubernetes == release.version
    version = await kube.server_version()
    assert version["gitVersion"] == release.version
    assert f"{version['major']}.{version['minor']}" == release.name
    nodes, _ = await kube.list("v1", "Node")
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {f"{release.version}-gitward-nodesim"}


def test_kubectl_works(test_cluster: ClusterUnderTest) -> None:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", test_cluster.kubeconfig, "get", "nodes", "-o", "name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if test_cluster.embedded:
        assert "node/gitward-sim-node-0" in out
    else:
        assert out.strip()
