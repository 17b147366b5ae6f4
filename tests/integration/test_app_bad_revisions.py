"""A commit that cannot be rendered or validated is never partly applied: broken YAML, an object the
API server rejects, a missing kustomize base. The last good revision stays deployed and a condition
names the file or object."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def configmap(name: str, value: str) -> str:
    return f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: "{value}"\n'


KUSTOMIZATION_MISSING_BASE = "resources:\n  - ../base-that-does-not-exist\n  - extra.yaml\n"

BAD_REVISIONS: dict[str, tuple[Mapping[str, str | None], str, str]] = {
    "broken-yaml": (
        {"good.yaml": configmap("good", "2"), "new.yaml": configmap("new", "1"), "broken.yaml": "a: [1, 2\nb: c: d\n"},
        "RenderError",
        "broken.yaml",
    ),
    "rejected-object": (
        {
            "good.yaml": configmap("good", "2"),
            "new.yaml": configmap("new", "1"),
            "bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Invalid_Name\ndata: {}\n",
        },
        "ValidationError",
        "ConfigMap",
    ),
    "missing-kustomize-base": (
        {
            "kustomization.yaml": KUSTOMIZATION_MISSING_BASE,
            "extra.yaml": configmap("new", "1"),
            "good.yaml": configmap("good", "2"),
        },
        "RenderError",
        "base-that-does-not-exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REVISIONS))
async def test_bad_revision_writes_nothing_and_keeps_the_last_good_one(
    case: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    files, condition_type, named = BAD_REVISIONS[case]
    repo = make_repo()
    good = repo.commit({"good.yaml": configmap("good", "1")}, message="good")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(good))

    bad = repo.commit(dict(files), message="bad")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")

    def refused(status: apps.Status) -> bool:
        cond = apps.condition(status, condition_type)
        return cond is not None and cond["status"] == "True"

    status = await apps.wait_status(kube, namespace, "app", refused)
    cond = apps.condition(status, condition_type)
    assert cond is not None and named in cond["message"]
    ready = apps.condition(status, "Ready")
    assert ready is not None and ready["status"] == "False"
    assert status["lastSyncedRevision"] == good
    assert status.get("lastAttemptedRevision") == bad
    # nothing of the bad revision was written
    assert (await kube.get("v1", "ConfigMap", "good", namespace))["data"] == {"value": "1"}
    assert await kube.get_or_none("v1", "ConfigMap", "new", namespace) is None

    fixed = repo.commit({name: None for name in files} | {"good.yaml": configmap("good", "3")}, message="fix")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(fixed))
    assert apps.condition(status, condition_type) is None
    assert (await kube.get("v1", "ConfigMap", "good", namespace))["data"] == {"value": "3"}
