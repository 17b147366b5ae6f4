"""The read side of the REST API against a real controller and control plane: after a real sync
the list, the Application, its resources and its history show the commit; a live edit of a
selfHeal:false Application shows as a unified diff (Secret values masked); diffs need the leader."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
  color: blue
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2-in-git
"""


@pytest.fixture
async def api(kube: KubeClient, namespace: str, controller: Controller) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace, controller) as running:
        yield running


async def test_list_get_resources_and_history_after_a_sync(
    kube: KubeClient, namespace: str, api: http_api.Api, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"app/config.yaml": CONFIG}, message="Deploy the settings", author=("Ada Lovelace", "ada@x.org"))
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, "app"))
    await apps.wait_status(kube, namespace, "web", lambda s: apps.synced_at(sha)(s) and apps.healthy(s))

    async with api.client("viewer") as http:
        resp = await http.get("/api/v1/applications")
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        assert [i["name"] for i in items] == ["web"]
        item = items[0]
        assert item["namespace"] == namespace and item["project"] == "default"
        assert (item["repoURL"], item["path"], item["targetRevision"]) == (url, "app", "main")
        assert (item["syncStatus"], item["healthStatus"]) == ("Synced", "Healthy")
        assert item["revision"] == sha and item["lastSyncedRevision"] == sha
        assert item["lastSyncedAt"] and item["reconciledAt"] and item["operationPhase"] == "Succeeded"
        assert item["automated"] is True and item["suspend"] is False
        ready = next(c for c in item["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"

        assert (await http.get("/api/v1/applications", params={"sync": "OutOfSync"})).json()["items"] == []
        assert (await http.get("/api/v1/applications", params={"namespace": "elsewhere"})).json()["items"] == []
        assert len((await http.get("/api/v1/applications", params={"health": "Healthy"})).json()["items"]) == 1

        resp = await http.get(f"/api/v1/applications/{namespace}/web")
        assert resp.status_code == 200
        app = resp.json()
        assert (app["apiVersion"], app["kind"]) == ("gitward.dev/v1alpha1", "Application")
        assert app["metadata"]["name"] == "web" and "managedFields" not in app["metadata"]
        assert app["spec"]["source"]["repoURL"] == url
        assert app["status"]["sync"] == {"status": "Synced", "revision": sha}
        assert app["status"]["inventory"]["entries"]  # fields beyond the documented ones are kept

        resources = (await http.get(f"/api/v1/applications/{namespace}/web/resources")).json()["items"]
        assert resources == [
            {
                "group": "", "version": "v1", "kind": "ConfigMap", "namespace": namespace, "name": "settings",
                "status": "Synced", "health": {"status": "Healthy", "message": ""}, "message": "",
            }
        ]  # fmt: skip

        history = (await http.get(f"/api/v1/applications/{namespace}/web/history")).json()["items"]
        assert len(history) == 1
        entry = history[0]
        assert entry["id"] == 1 and entry["revision"] == sha
        assert entry["author"].startswith("Ada Lovelace") and entry["message"] == "Deploy the settings"
        assert entry["initiatedBy"] == "automated" and entry["result"] == "Succeeded"
        assert entry["deployedAt"] and entry["committedAt"]

        for path in ("", "/resources", "/history", "/diff"):
            resp = await http.get(f"/api/v1/applications/{namespace}/missing{path}")
            assert resp.status_code == 404 and resp.json()["detail"] == f"Application {namespace}/missing not found"
        for bad in ("Bad_Name", "a..b", "-x"):
            assert (await http.get(f"/api/v1/applications/{namespace}/{bad}")).status_code == 404
        assert (await http.get("/api/v1/applications/kube-system/web")).status_code == 404  # not served here

        # a diff of a Synced application is empty
        resp = await http.get(f"/api/v1/applications/{namespace}/web/diff")
        assert resp.status_code == 200 and resp.json() == {"revision": sha, "items": []}


async def test_a_live_edit_shows_as_a_diff_without_secret_values(
    kube: KubeClient, namespace: str, api: http_api.Api, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"config.yaml": CONFIG, "secret.yaml": SECRET})
    url = git_http_server.publish(repo, "config.git")
    policy = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
    await kube.create(apps.application("web", namespace, url, syncPolicy=policy))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    await kube.patch("v1", "ConfigMap", "settings", namespace, {"data": {"greeting": "changed by hand"}})
    live_secret = base64.b64encode(b"changed-live-value").decode()
    await kube.patch("v1", "Secret", "creds", namespace, {"data": {"password": live_secret}})
    await apps.wait_status(
        kube, namespace, "web",
        lambda s: {r["name"] for r in s.get("resources", []) if r["status"] == "OutOfSync"} == {"settings", "creds"},
    )  # fmt: skip

    async with api.client("viewer") as http:
        resp = await http.get(f"/api/v1/applications/{namespace}/web/diff")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["revision"] == sha
    by_name = {d["name"]: d for d in body["items"]}
    assert set(by_name) == {"settings", "creds"}
    config = by_name["settings"]
    assert (config["group"], config["version"], config["kind"], config["namespace"]) == (
        "",
        "v1",
        "ConfigMap",
        namespace,
    )
    assert config["status"] == "OutOfSync"
    diff = config["diff"]
    assert diff.startswith(f"--- live/ConfigMap/{namespace}/settings\n+++ desired/ConfigMap/{namespace}/settings\n")
    assert "-  greeting: changed by hand\n" in diff and "+  greeting: hello\n" in diff
    assert "color: blue" in diff  # context
    secret = by_name["creds"]["diff"]
    assert "password" in secret
    for value in ("hunter2-in-git", "changed-live-value", live_secret, base64.b64encode(b"hunter2-in-git").decode()):
        assert value not in resp.text
    assert await kube.get("v1", "ConfigMap", "settings", namespace)  # nothing was changed by reading


async def test_diffs_need_the_controller(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"config.yaml": CONFIG})
    await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "config.git")))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    async with http_api.serving(kube, namespace, None) as follower, follower.client("viewer") as http:
        resp = await http.get(f"/api/v1/applications/{namespace}/web/diff")
        assert resp.status_code == 503
        assert "leader" in resp.json()["detail"] and resp.headers["retry-after"]
        # everything else is served by every replica
        assert (await http.get(f"/api/v1/applications/{namespace}/web")).status_code == 200


async def test_openapi_documents_the_shapes(kube: KubeClient, namespace: str, crds: None) -> None:
    async with http_api.serving(kube, namespace) as api, api.client() as http:
        resp = await http.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    paths = doc["paths"]
    for path in (
        "/api/v1/applications",
        "/api/v1/applications/{namespace}/{name}",
        "/api/v1/applications/{namespace}/{name}/resources",
        "/api/v1/applications/{namespace}/{name}/diff",
        "/api/v1/applications/{namespace}/{name}/history",
        "/api/v1/events",
        "/api/v1/webhooks/git",
    ):
        assert "get" in paths[path] or "post" in paths[path], path
    for op in ("sync", "refresh", "rollback"):
        post = paths[f"/api/v1/applications/{{namespace}}/{{name}}/{op}"]["post"]
        assert "application/json" in post["requestBody"]["content"]
        assert {"401", "403", "404", "415", "422"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    assert {"syncStatus", "healthStatus", "revision", "repoURL", "lastSyncedAt"} <= set(
        schemas["ApplicationSummary"]["properties"]
    )
    assert {"author", "message", "initiatedBy"} <= set(schemas["HistoryEntry"]["properties"])
    rollback = paths["/api/v1/applications/{namespace}/{name}/rollback"]["post"]["requestBody"]
    assert rollback["content"]["application/json"]["schema"]["required"] == ["id"]
