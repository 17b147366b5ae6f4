"""`gitward app sync [--revision R] [--prune] --wait` and `gitward app refresh --wait` with a real
controller: exit 0 once the request is handled and the Application is Synced and Healthy, exit 1
with the reason when the revision is refused, exit 2 when nobody handles it before `--timeout`."""

from __future__ import annotations

import json

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli, configmap
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

MANUAL = {"interval": "1m"}  # no automated sync: only requests deploy


async def _value(kube: KubeClient, namespace: str, name: str) -> str | None:
    live = await kube.get_or_none("v1", "ConfigMap", name, namespace)
    return None if live is None else str(live["data"]["value"])


async def test_sync_wait_succeeds_then_fails_on_a_revision_that_does_not_validate(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    good = repo.commit({"cm.yaml": configmap("good", value="1")}, message="good")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, syncPolicy=MANUAL))
    await apps.wait_status(kube, namespace, "web", lambda s: s.get("sync", {}).get("status") == "OutOfSync")
    assert await _value(kube, namespace, "good") is None, "manual policy: nothing deployed before a sync"

    ran = await app_cli(test_cluster, namespace, "sync", "web", "--wait", "--timeout", "60s")
    assert ran.code == 0, ran
    assert f"synced to {good[:7]}: Synced, Healthy" in ran.stdout
    assert "sync: operation" in ran.stdout, "progress lines when stdout is not a terminal"
    assert await _value(kube, namespace, "good") == "1"
    app = await apps.get_app(kube, namespace, "web")
    request = json.loads(app["metadata"]["annotations"]["gitward.dev/sync"])
    assert request["initiatedBy"] == "manual"
    assert app["status"]["lastHandledSync"] == app["metadata"]["annotations"]["gitward.dev/sync"]
    assert app["status"]["history"][-1]["initiatedBy"] == "manual"
    # who: the user the API server authenticated the CLI as (SelfSubjectReview), or on servers
    # without it, the field manager that wrote the annotation
    assert app["status"]["history"][-1]["initiator"] in (request.get("initiator"), "gitward-operations")
    assert app["status"]["history"][-1]["initiator"]

    repo.branch("broken")
    repo.switch("broken")
    rejected = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Invalid_Name\ndata: {}\n"
    repo.commit({"cm.yaml": configmap("good", value="2"), "bad.yaml": rejected}, message="bad")
    git_http_server.publish(repo, "config.git")
    ran = await app_cli(test_cluster, namespace, "sync", "web", "--revision", "broken", "--wait", "--timeout", "60s")
    assert ran.code == 1, ran
    assert "sync of broken requested" in ran.stdout
    assert ran.stderr.startswith("error: sync failed: validation failed") and "Invalid_Name" in ran.stderr
    assert await _value(kube, namespace, "good") == "1", "nothing of the refused revision is applied"


async def test_sync_with_prune(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    repo.commit({"a.yaml": configmap("a", value="1"), "b.yaml": configmap("b", value="1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, syncPolicy=MANUAL))
    assert (await app_cli(test_cluster, namespace, "sync", "web", "--wait")).code == 0
    repo.commit({"b.yaml": None})
    git_http_server.publish(repo, "config.git")

    ran = await app_cli(test_cluster, namespace, "sync", "web", "--no-prune", "--wait", "--timeout", "5s")
    assert ran.code == 2, "without pruning b stays, the Application stays OutOfSync: --wait times out"
    assert "timed out after 5s" in ran.stderr
    assert await _value(kube, namespace, "b") == "1"
    ran = await app_cli(test_cluster, namespace, "sync", "web", "--prune", "--wait", "--timeout", "60s")
    assert ran.code == 0, ran
    await apps.wait_for(lambda: _gone_or_deleting(kube, namespace, "b"), timeout=10, message="b pruned")


async def _gone_or_deleting(kube: KubeClient, namespace: str, name: str) -> bool:
    live = await kube.get_or_none("v1", "ConfigMap", name, namespace)
    return live is None or bool(live["metadata"].get("deletionTimestamp"))


async def test_refresh_wait_sees_a_new_commit(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("settings", value="1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))  # automated, 1m interval
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = repo.commit({"cm.yaml": configmap("settings", value="2")})
    git_http_server.publish(repo, "config.git")

    ran = await app_cli(test_cluster, namespace, "refresh", "web", "--wait", "--timeout", "60s")
    assert ran.code == 0, ran
    assert "refresh requested" in ran.stdout and "refreshed: " in ran.stdout
    app = await apps.get_app(kube, namespace, "web")
    assert app["status"]["lastHandledRefresh"] == app["metadata"]["annotations"]["gitward.dev/refresh"]
    assert app["status"]["sync"]["revision"] == second, "the refresh re-checked Git at once"
    assert await _value(kube, namespace, "settings") == "2"

    plain = await app_cli(test_cluster, namespace, "refresh", "web")
    assert plain.code == 0 and "refresh requested" in plain.stdout


async def test_wait_without_a_controller_times_out(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest
) -> None:
    await kube.create(apps.application("web", namespace, "https://git.example.com/none.git"))
    ran = await app_cli(test_cluster, namespace, "sync", "web", "--wait", "--timeout", "2s")
    assert ran.code == 2, ran
    assert "waiting for the controller" in ran.stdout
    assert "timed out after 2s" in ran.stderr
    bad = await app_cli(test_cluster, namespace, "sync", "web", "--wait", "--timeout", "soon")
    assert bad.code == 2 and "--timeout" in bad.stderr, bad
