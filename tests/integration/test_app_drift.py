"""Drift: an out-of-band edit of a managed field is reverted within seconds with selfHeal, and is
reported as OutOfSync without it; a manual sync (annotation) then fixes it."""

from __future__ import annotations

import subprocess
import time

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {tier: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


def kubectl(cluster: ClusterUnderTest, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", cluster.kubeconfig, *args], capture_output=True, text=True, check=True
    ).stdout


async def _replicas(kube: KubeClient, namespace: str) -> int:
    return int((await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"])


async def test_self_heal_reverts_an_edit(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    repo.commit({"deployment.yaml": DEPLOYMENT})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    kubectl(test_cluster, "-n", namespace, "scale", "deployment/web", "--replicas=5")
    started = time.monotonic()
    await apps.wait_for(lambda: _is(kube, namespace, 2), timeout=15, message="replicas reverted to 2")
    assert time.monotonic() - started < 15
    kubectl(test_cluster, "-n", namespace, "label", "deployment/web", "tier-")
    await apps.wait_for(lambda: _label(kube, namespace), timeout=15, message="label restored")


async def _is(kube: KubeClient, namespace: str, replicas: int) -> bool:
    return await _replicas(kube, namespace) == replicas


async def _label(kube: KubeClient, namespace: str) -> bool:
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    return bool(deployment["metadata"].get("labels", {}).get("tier") == "frontend")


async def test_without_self_heal_drift_is_reported_then_synced_manually(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    sha = repo.commit({"deployment.yaml": DEPLOYMENT})
    url = git_http_server.publish(repo, "config.git")
    policy = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
    await kube.create(apps.application("web", namespace, url, syncPolicy=policy))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    kubectl(test_cluster, "-n", namespace, "scale", "deployment/web", "--replicas=4")
    status = await apps.wait_status(kube, namespace, "web", lambda s: s["sync"]["status"] == "OutOfSync")
    row = next(r for r in status["resources"] if r["kind"] == "Deployment")
    assert row["status"] == "OutOfSync"
    assert "spec.replicas" in row["message"]
    assert await _replicas(kube, namespace) == 4, "without selfHeal the edit must stay"

    await kube.patch(
        "gitward.dev/v1alpha1", "Application", "web", namespace,
        {"metadata": {"annotations": {"gitward.dev/sync": "{}"}}},
    )  # fmt: skip
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    assert await _replicas(kube, namespace) == 2
