"""Image automation objects and waits for tests (tests/integration/test_image_*.py).

DEPLOYMENT.format(image=..., namespace=...)   a Deployment whose first image is marked for `<ns>:web`
git_secret(namespace)                          the Basic-auth Secret `git-creds` (GIT_USER / GIT_PASSWORD)
image_objects(namespace, image)                ImageRepository, ImagePolicy (semver ^1.0) and
                                               ImageUpdateAutomation `web` (sourceRef: Application web)
status_of(kube, namespace, kind, field)        one status field of the `web` object of `kind`, or ""
"""

from __future__ import annotations

import base64
from typing import Any

from gitward.kube.client import KubeClient

__all__ = ["DEPLOYMENT", "GIT_PASSWORD", "GIT_USER", "b64", "git_secret", "image_objects", "secret_of", "status_of"]

GIT_USER, GIT_PASSWORD = "automation", "git-pass-7731"
DEPLOYMENT = """\
# the web application; this comment stays
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {image} # {{"$imagepolicy": "{namespace}:web"}}
        - name: sidecar
          image: busybox:1.36
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_of(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret of plain-text `data` (encoded here)."""
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {k: b64(v) for k, v in data.items()}}


def git_secret(namespace: str) -> dict[str, Any]:
    return secret_of("git-creds", namespace, {"username": GIT_USER, "password": GIT_PASSWORD})


def image_objects(namespace: str, image: str) -> list[dict[str, Any]]:
    def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        meta = {"name": name, "namespace": namespace}
        return {"apiVersion": "gitward.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}

    commit = {
        "author": {"name": "Image Bot", "email": "image-bot@example.com"},
        "messageTemplate": "chore: update images ({{ .AutomationObject }})\n\n{{ .Changes }}",
    }
    return [
        obj("ImageRepository", "web", {"image": image, "interval": "1s", "secretRef": {"name": "registry-creds"}}),
        obj("ImagePolicy", "web", {"imageRepositoryRef": {"name": "web"}, "policy": {"semver": {"range": "^1.0"}}}),
        obj(
            "ImageUpdateAutomation",
            "web",
            {
                "interval": "1s",
                "sourceRef": {"kind": "Application", "name": "web"},
                "git": {"checkout": {"branch": "main"}, "push": {"branch": "main"}, "commit": commit},
                "update": {"path": "deploy"},
            },
        ),
    ]


async def status_of(kube: KubeClient, namespace: str, kind: str, field: str) -> str:
    obj = await kube.get("gitward.dev/v1alpha1", kind, "web", namespace)
    return str((obj.get("status") or {}).get(field) or "")
