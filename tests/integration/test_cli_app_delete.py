"""`gitward app delete NAME [--cascade/--orphan] --wait` with a real controller: cascade removes the
managed objects with the Application, --orphan keeps them (gitward.dev/deletion-policy: orphan)."""

from __future__ import annotations

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli, configmap
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


@pytest.mark.parametrize("flag", ["--cascade", "--orphan", None])
async def test_delete(
    flag: str | None,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("settings", value="1")})
    url = git_http_server.publish(repo, "config.git")
    app = apps.application("web", namespace, url)
    if flag == "--cascade":  # an explicit --cascade overrides an orphan policy set before
        app["metadata"]["annotations"] = {"gitward.dev/deletion-policy": "orphan"}
    await kube.create(app)
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    ran = await app_cli(test_cluster, namespace, "delete", "web", *([flag] if flag else []), "--wait")
    assert ran.code == 0, ran
    assert await kube.get_or_none(API_VERSION, "Application", "web", namespace) is None
    live = await kube.get_or_none("v1", "ConfigMap", "settings", namespace)
    if flag == "--orphan":
        assert "managed objects are kept" in ran.stdout
        assert live is not None and not live["metadata"].get("deletionTimestamp")
    else:
        assert "the controller deletes its managed objects" in ran.stdout
        assert live is None or live["metadata"].get("deletionTimestamp")
    assert ran.stdout.rstrip().endswith("the Application is gone")


async def test_delete_missing(test_cluster: ClusterUnderTest, namespace: str, crds: None) -> None:
    ran = await app_cli(test_cluster, namespace, "delete", "nope", "--orphan")
    assert ran.code == 1 and "not found" in ran.stderr, ran
