"""`GET /api/v1/events`: a client receives a snapshot, then an event whenever an Application's
status changes (here: created, synced and healthy, then deleted); streams end at shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: '1'\n"


async def test_status_changes_are_streamed(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("before", namespace, url, "nowhere", syncPolicy={}))
    async with (
        http_api.serving(kube, namespace, controller) as api,
        api.client("viewer") as http,
        http.stream("GET", "/api/v1/events", params={"namespace": namespace}) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = http_api.sse_events(resp)
        snapshot = await anext(events)
        assert snapshot.event == "snapshot"
        assert [s["name"] for s in snapshot.data["items"]] == ["before"]

        await kube.create(apps.application("web", namespace, url))
        seen: list[dict[str, Any]] = []

        async def until(predicate: Any) -> dict[str, Any]:
            async for event in events:
                assert event.event in ("application", "resync"), event
                data: dict[str, Any] = event.data
                if event.event == "application" and data["name"] == "web":
                    seen.append({**data, "id": int(event.id)})
                    if predicate(data):
                        return data
            raise AssertionError("stream ended")

        async with asyncio.timeout(10):
            added = await until(lambda d: d["type"] == "ADDED")
        assert added["namespace"] == namespace and added["application"]["repoURL"] == url
        async with asyncio.timeout(30):
            synced = await until(lambda d: (d["application"] or {}).get("syncStatus") == "Synced")
        assert synced["type"] == "MODIFIED" and synced["application"]["revision"] == sha
        assert synced["application"]["healthStatus"] == "Healthy"  # a ConfigMap is healthy at once

        await kube.delete("gitward.dev/v1alpha1", "Application", "web", namespace)
        async with asyncio.timeout(30):
            deleted = await until(lambda d: d["type"] == "DELETED")
        assert deleted["application"] is None
        assert seen[0]["type"] == "ADDED" and seen[-1]["type"] == "DELETED"
        assert len({e["id"] for e in seen}) == len(seen), "ids only increase"

        # the stream ends when the server shuts down
        await api.backend.stop()
        async with asyncio.timeout(5):
            await _drain(events)


async def _drain(events: Any) -> None:
    async for _ in events:
        pass


async def test_a_stream_can_follow_one_application(kube: KubeClient, namespace: str, crds: None) -> None:
    for name in ("one", "two"):
        await kube.create(apps.application(name, namespace, "https://git.example.com/x.git", syncPolicy={}))
    async with (
        http_api.serving(kube, namespace) as api,
        api.client("admin") as http,
        http.stream("GET", "/api/v1/events", params={"namespace": namespace, "name": "two"}) as resp,
    ):
        events = http_api.sse_events(resp)
        snapshot = await anext(events)
        assert [s["name"] for s in snapshot.data["items"]] == ["two"]
        for name in ("one", "two"):
            patch = {"spec": {"source": {"targetRevision": "dev"}}}
            await kube.patch("gitward.dev/v1alpha1", "Application", name, namespace, patch)
        async with asyncio.timeout(10):
            event = await anext(events)
        assert (event.data["name"], event.data["type"]) == ("two", "MODIFIED")
        assert event.data["application"]["targetRevision"] == "dev"
