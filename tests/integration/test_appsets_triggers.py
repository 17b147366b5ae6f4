"""When an ApplicationSet re-checks its generators: a matching Git webhook (in-process on the
leader, through the refresh annotation elsewhere; sets on other repositories are left alone) and
the `gitward.dev/refresh` annotation; the CLI shows sets and what they generated."""

from __future__ import annotations

import json

from tests.conftest import ClusterUnderTest
from tests.integration.test_appsets_generators import appset, configmap, template, wait_names
from tests.support import apps, cli, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

HOOK = "/api/v1/webhooks/git"


def dirs_set(name: str, namespace: str, url: str) -> dict[str, object]:
    generator = {"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}}
    tmpl = template(namespace, url, f"{name}-{{{{path.basename}}}}", "{{path}}")
    return appset(name, namespace, [generator], tmpl, interval="1h")


async def test_a_push_refreshes_the_sets_reading_that_repository(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo, other = make_repo("a"), make_repo("b")
    repo.commit({"apps/one/cm.yaml": configmap("one")})
    other.commit({"apps/x/cm.yaml": configmap("x")})
    url, other_url = git_http_server.publish(repo, "a.git"), git_http_server.publish(other, "b.git")
    await kube.create(dirs_set("s", namespace, url))
    await kube.create(dirs_set("o", namespace, other_url))
    await wait_names(kube, namespace, "s", {"s-one"})
    await wait_names(kube, namespace, "o", {"o-x"})

    repo.commit({"apps/two/cm.yaml": configmap("two")})
    other.commit({"apps/y/cm.yaml": configmap("y")})
    git_http_server.publish(repo, "a.git")
    git_http_server.publish(other, "b.git")
    async with http_api.serving(kube, namespace, controller) as api, api.client() as http:
        body = http_api.encode(http_api.github_push(url, "main"))
        resp = await http.post(HOOK, headers=http_api.github(body), content=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["applicationSets"] == [{"namespace": namespace, "name": "s"}]
    await wait_names(kube, namespace, "s", {"s-one", "s-two"})

    # a replica without the controller: through the annotation
    repo.commit({"apps/three/cm.yaml": configmap("three")})
    git_http_server.publish(repo, "a.git")
    async with http_api.serving(kube, namespace, None) as follower, follower.client() as http:
        body = http_api.encode(http_api.github_push(url, "main"))
        resp = await http.post(HOOK, headers=http_api.github(body), content=body)
    assert resp.json()["applicationSets"] == [{"namespace": namespace, "name": "s"}]
    await wait_names(kube, namespace, "s", {"s-one", "s-two", "s-three"})
    meta = (await kube.get(API_VERSION, "ApplicationSet", "s", namespace))["metadata"]
    assert meta["annotations"]["gitward.dev/refresh"].startswith("webhook-")
    # the other set's new directory is seen only at its interval (1h) or on its own refresh
    assert set(await _generated_names(kube, namespace, "o")) == {"o-x"}
    await kube.patch(
        API_VERSION, "ApplicationSet", "o", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "now"}}}
    )
    await wait_names(kube, namespace, "o", {"o-x", "o-y"})

    async def handled() -> bool:
        status = (await kube.get(API_VERSION, "ApplicationSet", "o", namespace)).get("status") or {}
        return status.get("lastHandledRefresh") == "now"

    await apps.wait_for(handled, 30, message="refresh handled")


async def test_cli_lists_sets_and_shows_their_applications(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    repo.commit({"apps/one/cm.yaml": configmap("one"), "apps/two/cm.yaml": configmap("two")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(dirs_set("web", namespace, url))
    await wait_names(kube, namespace, "web", {"web-one", "web-two"})
    for name in ("web-one", "web-two"):
        await apps.wait_status(kube, namespace, name, apps.all_of(apps.synced_at(repo.head()), apps.healthy))

    async def ready() -> bool:
        status = (await kube.get(API_VERSION, "ApplicationSet", "web", namespace)).get("status") or {}
        return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])

    await apps.wait_for(ready, 30, message="set Ready")
    where = ("--kubeconfig", test_cluster.kubeconfig, "-n", namespace)
    listed = await cli.gitward("appset", "list", *where)
    assert listed.code == 0, str(listed)
    row = next(line for line in listed.stdout.splitlines() if line.startswith("web "))
    assert row.split()[1:3] == ["True", "2"]
    shown = await cli.gitward("appset", "get", "web", *where)
    assert shown.code == 0, str(shown)
    lines = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines() if line.startswith("web-")}
    assert lines == {"web-one": ["Synced", "Healthy"], "web-two": ["Synced", "Healthy"]}
    as_json = await cli.gitward("appset", "get", "web", "-o", "json", *where)
    assert json.loads(as_json.stdout)["metadata"]["name"] == "web"
    missing = await cli.gitward("appset", "get", "nope", *where)
    assert missing.code == 1 and "not found" in missing.stderr


async def _generated_names(kube: KubeClient, namespace: str, name: str) -> list[str]:
    items, _ = await kube.list(
        API_VERSION, "Application", namespace, label_selector=f"gitward.dev/application-set={name}"
    )
    return [i["metadata"]["name"] for i in items]
