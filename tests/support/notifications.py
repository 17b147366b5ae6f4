"""Kubernetes helpers of the notification tests (tests/integration/test_notification*.py and
tests/e2e/test_notifications_browser.py): a Secret, a Provider, an Alert (waited for until the
controller has seen it), waiting for a Ready condition, and the manifests the tests sync.
"""

from __future__ import annotations

import base64
from typing import Any

from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient
from tests.support import apps

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
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


async def secret(kube: KubeClient, namespace: str, name: str, **data: str) -> None:
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


async def provider(kube: KubeClient, namespace: str, name: str, **spec: Any) -> None:
    body = {"apiVersion": API_VERSION, "kind": "Provider", "metadata": {"name": name, "namespace": namespace}}
    await kube.create({**body, "spec": spec})


async def alert(kube: KubeClient, namespace: str, name: str, provider_name: str, **spec: Any) -> None:
    body: dict[str, Any] = {"providerRef": {"name": provider_name}, "eventSources": [{"kind": "Application"}]}
    body.update(spec)
    obj = {"apiVersion": API_VERSION, "kind": "Alert", "metadata": {"name": name, "namespace": namespace}}
    await kube.create({**obj, "spec": body})
    await ready(kube, namespace, "Alert", name, "True")  # the controller sees it: events are routed from now on


async def ready(kube: KubeClient, namespace: str, kind: str, name: str, status: str, timeout: float = 60) -> Any:
    async def check() -> Any:
        obj = await kube.get(API_VERSION, kind, name, namespace)
        cond = apps.condition(obj.get("status") or {}, "Ready")
        return obj if cond and cond["status"] == status else None

    return await apps.wait_for(check, timeout, 0.2, f"{kind} {name} Ready={status}")
