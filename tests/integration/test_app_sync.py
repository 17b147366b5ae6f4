"""The core loop end to end: an Application with a Deployment, a Service and ConfigMaps syncs from a
real Git server (smart HTTP) into the real control plane; health goes Progressing → Healthy through
the node simulator; status shows the commit, its author and message, and a history entry."""

from __future__ import annotations

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
          ports:
            - containerPort: 80
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 80
"""

CONFIGMAPS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: features
data:
  beta: "true"
"""


async def test_application_syncs_and_becomes_healthy(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit(
        {"app/deployment.yaml": DEPLOYMENT, "app/service.yaml": SERVICE, "app/config.yaml": CONFIGMAPS},
        message="Deploy the web app",
        author=("Ada Lovelace", "ada@example.com"),
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, "app"))

    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    kinds = {(r["kind"], r["name"]) for r in status["resources"]}
    assert kinds == {("Deployment", "web"), ("Service", "web"), ("ConfigMap", "settings"), ("ConfigMap", "features")}
    assert status["lastSyncedRevision"] == sha
    assert len(status["inventory"]["entries"]) == 4

    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    annotations = deployment["metadata"]["annotations"]
    assert annotations["gitward.dev/tracking-id"] == f"{namespace}/web:apps/Deployment:{namespace}/web"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gitward"
    assert any(m["manager"] == "gitward" and m["operation"] == "Apply" for m in deployment["metadata"]["managedFields"])
    assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations

    status = await apps.wait_status(kube, namespace, "web", apps.healthy, timeout=60)
    assert (await kube.get("apps/v1", "Deployment", "web", namespace))["status"]["readyReplicas"] == 2
    ready = apps.condition(status, "Ready")
    assert ready is not None and ready["status"] == "True"

    history = status["history"]
    assert history[-1]["revision"] == sha
    assert history[-1]["author"].startswith("Ada Lovelace")
    assert history[-1]["message"] == "Deploy the web app"
    assert history[-1]["initiatedBy"] == "automated"
    assert history[-1]["result"] == "Succeeded"
    assert status["operationState"]["phase"] == "Succeeded"
    results = status["operationState"]["syncResult"]["resources"]
    assert sorted((r["kind"], r["name"], r["action"]) for r in results) == [
        ("ConfigMap", "features", "created"),
        ("ConfigMap", "settings", "created"),
        ("Deployment", "web", "created"),
        ("Service", "web", "created"),
    ]


async def test_deployment_health_is_progressing_before_healthy(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """A Deployment whose pods are not ready yet makes the Application Progressing, not Healthy."""
    slow = DEPLOYMENT.replace("replicas: 2", "replicas: 1").replace(
        "labels: {app: web}\n    spec:",
        "labels: {app: web}\n      annotations: {nodesim.gitward.dev/phase: CrashLoopBackOff}\n    spec:",
    )
    repo = make_repo()
    sha = repo.commit({"deployment.yaml": slow}, message="crashing web")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("health") or {}).get("status") == "Progressing", timeout=30
    )
    ready = apps.condition(status, "Ready")
    assert ready is not None and ready["status"] == "False"
