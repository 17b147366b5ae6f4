"""`gitward app rollback NAME ID`, `suspend` and `resume` with a real controller: a rollback deploys
the older revision and suspends automated sync (and says so); resume brings the branch back; an
unknown history id exits 1. Suspend keeps new commits out until resume."""

from __future__ import annotations

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli, configmap
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


async def _value(kube: KubeClient, namespace: str) -> str:
    return str((await kube.get("v1", "ConfigMap", "settings", namespace))["data"]["value"])


async def _suspended(kube: KubeClient, namespace: str) -> bool:
    return bool((await apps.get_app(kube, namespace, "web"))["spec"].get("suspend"))


async def test_rollback_to_an_older_revision_then_resume(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("settings", value="1")}, message="one")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = repo.commit({"cm.yaml": configmap("settings", value="2")}, message="two")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
    assert [(h["id"], h["revision"]) for h in status["history"]] == [(1, first), (2, second)]

    unknown = await app_cli(test_cluster, namespace, "rollback", "web", "99")
    assert unknown.code == 1, unknown
    assert "no history entry 99" in unknown.stderr and "known: 1, 2" in unknown.stderr
    assert not await _suspended(kube, namespace), "a refused rollback changes nothing"

    ran = await app_cli(test_cluster, namespace, "rollback", "web", "1", "--wait", "--timeout", "60s")
    assert ran.code == 0, ran
    assert f"back to history entry 1 (revision {first[:7]})" in ran.stdout
    assert "spec.suspend=true" in ran.stdout and "gitward app resume web" in ran.stdout
    assert await _value(kube, namespace) == "1"
    assert await _suspended(kube, namespace)
    app = await apps.get_app(kube, namespace, "web")
    assert app["status"]["operationState"]["revision"] == first
    assert app["status"]["lastSyncedRevision"] == first
    last = app["status"]["history"][-1]
    assert (last["revision"], last["initiatedBy"]) == (first, "rollback")

    resumed = await app_cli(test_cluster, namespace, "resume", "web")
    assert resumed.code == 0, resumed
    assert "resumed" in resumed.stdout
    assert not await _suspended(kube, namespace)
    await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
    assert await _value(kube, namespace) == "2"


async def test_suspend_keeps_new_commits_out_until_resume(
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
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))

    ran = await app_cli(test_cluster, namespace, "suspend", "web")
    assert ran.code == 0, ran
    assert f"Application {namespace}/web suspended" in ran.stdout
    assert await _suspended(kube, namespace)
    get = await app_cli(test_cluster, namespace, "get", "web")
    assert "SUSPENDED" in get.stdout

    second = repo.commit({"cm.yaml": configmap("settings", value="2")})
    git_http_server.publish(repo, "config.git")
    refreshed = await app_cli(test_cluster, namespace, "refresh", "web", "--wait", "--timeout", "60s")
    assert refreshed.code == 0, refreshed
    status = (await apps.get_app(kube, namespace, "web"))["status"]
    assert status["sync"] == {"status": "OutOfSync", "revision": second}
    assert await _value(kube, namespace) == "1", "suspended: the new commit is not applied"

    assert (await app_cli(test_cluster, namespace, "resume", "web")).code == 0
    await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
    assert await _value(kube, namespace) == "2"
