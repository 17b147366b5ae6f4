"""Deleting an Application deletes its managed objects (finalizer gitward.dev/cleanup), unless it is
annotated `gitward.dev/deletion-policy: orphan`."""

from __future__ import annotations

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"


@pytest.mark.parametrize("orphan", [False, True])
async def test_delete_application(
    orphan: bool,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo, "config.git")
    app = apps.application("app", namespace, url)
    if orphan:
        app["metadata"]["annotations"] = {"gitward.dev/deletion-policy": "orphan"}
    await kube.create(app)
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert "gitward.dev/cleanup" in (await apps.get_app(kube, namespace, "app"))["metadata"]["finalizers"]

    await kube.delete(API_VERSION, "Application", "app", namespace)
    await apps.wait_for(lambda: _gone(kube, namespace), timeout=30, message="Application deleted")
    live = await kube.get_or_none("v1", "ConfigMap", "cm", namespace)
    if orphan:
        assert live is not None
    else:
        assert live is None or live["metadata"].get("deletionTimestamp")


async def _gone(kube: KubeClient, namespace: str) -> bool:
    return await kube.get_or_none(API_VERSION, "Application", "app", namespace) is None
