"""The write side of the REST API against a real controller: sync (also of another revision),
refresh and rollback do what they say (history records who initiated them; rollback suspends
automated sync); malformed requests get 4xx JSON, never 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

JSON = {"Content-Type": "application/json"}


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: '{value}'\n"


async def value(kube: KubeClient, namespace: str) -> str | None:
    cm = await kube.get_or_none("v1", "ConfigMap", "settings", namespace)
    return None if cm is None else str(cm["data"]["value"])


@pytest.fixture
async def api(kube: KubeClient, namespace: str, controller: Controller) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace, controller) as running:
        yield running


async def test_manual_sync_and_sync_of_a_revision(
    kube: KubeClient, namespace: str, api: http_api.Api, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("1")}, message="one")
    second = repo.commit({"cm.yaml": configmap("2")}, message="two")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, syncPolicy={"interval": "1m"}))  # manual sync only
    await apps.wait_status(kube, namespace, "web", lambda s: (s.get("sync") or {}).get("status") == "OutOfSync")
    assert await value(kube, namespace) is None

    async with api.client("admin") as http:
        resp = await http.post(f"/api/v1/applications/{namespace}/web/sync", headers=JSON, content=b"{}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["namespace"], body["name"], body["operation"]) == (namespace, "web", "sync")
        assert json.loads(body["request"])["initiatedBy"] == "manual"
        status = await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
        assert await value(kube, namespace) == "2"
        assert (status["history"][-1]["initiatedBy"], status["history"][-1]["message"]) == ("manual", "two")
        assert status["history"][-1]["initiator"] == "admin-user"  # the API token's name
        assert status["lastHandledSync"] == body["request"]

        resp = await http.post(f"/api/v1/applications/{namespace}/web/sync", json={"revision": first, "prune": True})
        assert resp.status_code == 200, resp.text

        # the objects change before the status records it: wait for the history entry itself
        def recorded(s: apps.Status) -> bool:
            return bool(s.get("history")) and s["history"][-1]["revision"] == first

        status = await apps.wait_status(kube, namespace, "web", recorded, timeout=30)
        assert status["history"][-1]["initiatedBy"] == "manual"
        assert await value(kube, namespace) == "1"


async def test_refresh_picks_up_a_new_commit_now(
    kube: KubeClient, namespace: str, api: http_api.Api, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))  # automated, interval 1m
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = repo.commit({"cm.yaml": configmap("2")})
    git_http_server.publish(repo, "config.git")

    async with api.client("admin") as http:
        resp = await http.post(f"/api/v1/applications/{namespace}/web/refresh", headers=JSON)  # no body
    assert resp.status_code == 200, resp.text
    assert resp.json()["operation"] == "refresh"
    handled = apps.all_of(apps.synced_at(second), apps.refreshed(resp.json()["request"]))
    await apps.wait_status(kube, namespace, "web", handled, timeout=30)  # both, in the same status
    assert await value(kube, namespace) == "2"


async def test_rollback_deploys_an_older_revision_and_suspends(
    kube: KubeClient,
    namespace: str,
    api: http_api.Api,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("1")}, message="one")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = repo.commit({"cm.yaml": configmap("2")}, message="two")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(second))

    async with api.client("admin") as http:
        history = (await http.get(f"/api/v1/applications/{namespace}/web/history")).json()["items"]
        assert [(h["id"], h["revision"], h["message"]) for h in history] == [(1, first, "one"), (2, second, "two")]

        resp = await http.post(f"/api/v1/applications/{namespace}/web/rollback", json={"id": 99})
        assert resp.status_code == 404
        assert "no history entry 99" in resp.json()["detail"] and "known: 1, 2" in resp.json()["detail"]
        assert not (await apps.get_app(kube, namespace, "web"))["spec"].get("suspend")

        resp = await http.post(f"/api/v1/applications/{namespace}/web/rollback", json={"id": 1})
        assert resp.status_code == 200, resp.text
        assert resp.json()["operation"] == "rollback"
        status = await apps.wait_status(
            kube, namespace, "web", lambda s: s.get("lastSyncedRevision") == first and len(s["history"]) == 3
        )
        assert await value(kube, namespace) == "1"
        assert (status["history"][-1]["revision"], status["history"][-1]["initiatedBy"]) == (first, "rollback")
        assert status["operationState"]["revision"] == first
        app = (await http.get(f"/api/v1/applications/{namespace}/web")).json()
        assert app["spec"]["suspend"] is True
        summary = (await http.get("/api/v1/applications")).json()["items"][0]
        assert summary["suspend"] is True and summary["lastSyncedRevision"] == first
        # suspended: the branch head is not deployed again (the Application is OutOfSync with it)
        await apps.wait_status(
            kube, namespace, "web", lambda s: s["sync"] == {"status": "OutOfSync", "revision": second}
        )
        assert await value(kube, namespace) == "1"


@pytest.mark.parametrize(
    ("op", "headers", "body", "code", "detail"),
    [
        ("sync", JSON, b"{not json", 400, "not valid JSON"),
        ("sync", JSON, b"\xff\xfe", 400, "not valid JSON"),
        ("sync", JSON, b"[" * 50_000, 400, "not valid JSON"),
        ("sync", JSON, b"[]", 422, "must be a JSON object"),
        ("sync", JSON, b'"sync"', 422, "must be a JSON object"),
        ("sync", JSON, b'{"prune": "yes"}', 422, "prune"),
        ("sync", JSON, b'{"revision": 5}', 422, "revision"),
        ("sync", JSON, b'{"revison": "main"}', 422, "revison"),
        ("sync", JSON, b'{"revision": "' + b"a" * 300 + b'"}', 422, "revision"),
        ("sync", JSON, b'{"revision": "--upload-pack=touch /tmp/pwned"}', 422, "revision"),
        ("sync", JSON, b'{"revision": "main\\r\\nX-Injected: 1"}', 422, "revision"),
        ("sync", JSON, b'{"revision": "../../etc"}', 422, "revision"),
        ("rollback", JSON, b"{}", 422, "id"),
        ("rollback", JSON, b'{"id": "1"}', 422, "id"),
        ("rollback", JSON, b'{"id": 1.5}', 422, "id"),
        ("rollback", JSON, b'{"id": null}', 422, "id"),
        ("refresh", JSON, b'{"now": true}', 422, "now"),
        ("sync", {"Content-Type": "text/plain"}, b"{}", 415, "application/json"),
        ("sync", {"Content-Type": "application/x-www-form-urlencoded"}, b"revision=x", 415, "application/json"),
        ("refresh", {}, b"", 415, "application/json"),
        ("sync", JSON, b'{"revision": "' + b"a" * 70_000 + b'"}', 413, "larger than"),
    ],
)
async def test_malformed_requests(
    kube: KubeClient,
    namespace: str,
    crds: None,
    op: str,
    headers: dict[str, str],
    body: bytes,
    code: int,
    detail: str,
) -> None:
    await kube.create(apps.application("web", namespace, "https://git.example.com/none.git", syncPolicy={}))
    async with http_api.serving(kube, namespace) as api, api.client("admin") as http:
        resp = await http.post(f"/api/v1/applications/{namespace}/web/{op}", headers=headers, content=body)
        assert resp.status_code == code, resp.text
        assert detail in resp.json()["detail"]
        resp = await http.post(f"/api/v1/applications/{namespace}/nothere/sync", json={})
        assert resp.status_code == 404 and "not found" in resp.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200
    annotations = (await apps.get_app(kube, namespace, "web"))["metadata"].get("annotations") or {}
    assert not {"gitward.dev/sync", "gitward.dev/refresh"} & set(annotations), "a refused request changes nothing"
