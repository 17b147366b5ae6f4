"""The dashboard in memory: the real app (gitward.server.app.build + dashboard.install) on a
backend whose Kubernetes client is a fake holding a few Applications and live objects."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from gitward.core.manifests import ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import dashboard, tokens
from gitward.server.backend import Backend
from gitward.server.sessions import RateLimiter

TOKENS = {"viewer": "viewer-token-unit", "admin": "admin-token-unit"}
CONFIG = tokens.parse(
    "tokens:\n"
    + "".join(f"  - {{name: {r}-user, sha256: {tokens.hash_token(t)}, role: {r}}}\n" for r, t in TOKENS.items())
)
SHA1, SHA2 = "1" * 40, "2" * 40


def application(name: str, namespace: str = "team", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitward.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/org/config.git", "path": f"apps/{name}",
                       "targetRevision": "main"},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": False}, "interval": "3m"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": SHA2},
            "health": {"status": "Healthy"},
            "lastSyncedRevision": SHA2,
            "reconciledAt": "2030-01-01T00:00:05Z",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                            "lastTransitionTime": "2030-01-01T00:00:00Z"}],
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace, "name": "web",
                 "status": "Synced", "health": {"status": "Healthy"}},
            ],
            "history": [
                {"id": 1, "revision": SHA1, "author": "Ada", "message": "first", "committedAt": "2030-01-01T00:00:00Z",
                 "deployedAt": "2030-01-01T00:00:01Z", "initiatedBy": "automated", "result": "Succeeded"},
                {"id": 2, "revision": SHA2, "author": "Ada", "message": "second",
                 "committedAt": "2030-01-01T00:00:02Z", "deployedAt": "2030-01-01T00:00:03Z",
                 "initiatedBy": "automated", "result": "Succeeded"},
            ],
            "operationState": {"phase": "Succeeded", "message": "successfully synced (1 configured)",
                               "startedAt": "2030-01-01T00:00:02Z", "finishedAt": "2030-01-01T00:00:03Z",
                               "revision": SHA2},
            **status,
        },
    }  # fmt: skip


class FakeKube:
    """What the dashboard asks of a KubeClient: list, get and patch."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.patches: list[tuple[str, str, str, Any]] = []
        self.lists: list[tuple[str, str | None]] = []

    def _find(self, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        for obj in self.objects:
            meta = obj["metadata"]
            if obj["kind"] == kind and meta["name"] == name and meta.get("namespace") == namespace:
                return obj
        return None

    async def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> Any:
        self.lists.append((kind, namespace))
        found = [o for o in self.objects if o["kind"] == kind and namespace in (None, o["metadata"].get("namespace"))]
        return copy.deepcopy(found), "1"

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        obj = self._find(kind, name, namespace)
        if obj is None:
            raise errors.APINotFoundError(f"{kind} {name} not found", code=404)
        return copy.deepcopy(obj)

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        return copy.deepcopy(self._find(kind, name, namespace))

    async def patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Any, **_: Any) -> Any:
        self.patches.append((kind, namespace or "", name, patch))
        obj = self._find(kind, name, namespace)
        if obj is None:
            raise errors.APINotFoundError(f"{kind} {name} not found", code=404)
        return copy.deepcopy(obj)


class Dashboard:
    def __init__(self, kube: FakeKube, web: FastAPI, backend: Backend) -> None:
        self.kube, self.web, self.backend = kube, web, backend

    def client(self, role: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        transport = httpx.ASGITransport(app=self.web)
        return httpx.AsyncClient(transport=transport, base_url="http://gitward.test", headers=headers)

    @asynccontextmanager
    async def browser(self, role: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client logged in with a session cookie, like a browser."""
        async with self.client() as client:
            resp = await client.post("/login", data={"token": TOKENS[role], "next": "/"})
            assert resp.status_code == 303, resp.text
            yield client


MakeDashboard = Callable[..., Dashboard]


def build(objects: list[dict[str, Any]], config: tokens.AuthConfig | None = CONFIG) -> Dashboard:
    kube = FakeKube(objects)
    backend = Backend(cast(KubeClient, kube), None, auth=config)
    for obj in objects:
        if obj["kind"] == "Application":
            group, _ = split_api_version(obj["apiVersion"])
            meta = obj["metadata"]
            backend.applications.store[ObjectRef(group, "Application", meta["namespace"], meta["name"])] = obj
    backend.applications.synced.set()
    web = server_app.build(server_app.Probe(lambda: True, lambda: {}), backend)
    web.state.auth.login_limiter = RateLimiter(burst=100)
    dashboard.install(web)
    return Dashboard(kube, web, backend)


@pytest.fixture
def make_dashboard() -> MakeDashboard:
    return build


@pytest.fixture
def board() -> Dashboard:
    return build([application("web"), application("api", "ops")])
