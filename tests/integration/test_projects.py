"""Project bounds: an Application outside its Project (foreign destination, denied source repository,
denied kind) is refused with a clear condition before anything is written; `default` allows
everything until it is created; changing an Application's project is re-checked."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"
QUOTA = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\nspec:\n  hard: {pods: '10'}\n"


def refused(status: apps.Status) -> bool:
    cond = apps.condition(status, "ValidationError")
    return cond is not None and cond["status"] == "True"


@pytest.fixture
def repo_url(make_repo: MakeRepo, git_http_server: GitHttpServer) -> str:
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP, "quota.yaml": QUOTA})
    return git_http_server.publish(repo, "team/config.git")


async def test_default_project_allows_everything_until_created(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    await kube.create(apps.application("app", namespace, repo_url))
    status = await apps.wait_status(kube, namespace, "app", lambda s: s.get("sync", {}).get("status") == "Synced")
    assert {r["kind"] for r in status["resources"]} == {"ConfigMap", "ResourceQuota"}


@pytest.mark.parametrize(
    ("case", "spec", "message"),
    [
        (
            "foreign-destination",
            {"sourceRepos": ["*"], "destinations": [{"cluster": "in-cluster", "namespace": "somewhere-else"}]},
            "is not permitted by the project's destinations",
        ),
        (
            "denied-source",
            {"sourceRepos": ["*", "!*/team/config.git"], "destinations": [{"cluster": "*", "namespace": "*"}]},
            "is not permitted by the project's sourceRepos",
        ),
        (
            "foreign-application-namespace",
            {
                "sourceRepos": ["*"],
                "destinations": [{"cluster": "*", "namespace": "*"}],
                "sourceNamespaces": ["team-*"],
            },
            "may not use this project (its sourceNamespaces)",
        ),
        (
            "denied-kind",
            {
                "sourceRepos": ["*"],
                "destinations": [{"cluster": "*", "namespace": "*"}],
                "namespaceResourceDenylist": [{"group": "", "kind": "ResourceQuota"}],
            },
            "ResourceQuota is in the project's namespaceResourceDenylist",
        ),
    ],
)
async def test_out_of_bounds_is_refused_before_any_write(
    case: str,
    spec: dict[str, Any],
    message: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    repo_url: str,
) -> None:
    await kube.create(apps.project("tenant", namespace, spec))
    app = apps.application("app", namespace, repo_url, project="tenant")
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "app", refused)
    cond = apps.condition(status, "ValidationError")
    assert cond is not None
    assert cond["reason"] == "ProjectViolation", case
    assert message in cond["message"]
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None
    assert await kube.get_or_none("v1", "ResourceQuota", "q", namespace) is None


async def test_changing_project_is_rechecked(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    narrow = {"sourceRepos": ["https://nowhere.example.com/*"], "destinations": [{"cluster": "*", "namespace": "*"}]}
    wide = {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": "*"}]}
    await kube.create(apps.project("narrow", namespace, narrow))
    await kube.create(apps.project("wide", namespace, wide))
    await kube.create(apps.application("app", namespace, repo_url, project="wide"))
    await apps.wait_status(kube, namespace, "app", lambda s: s.get("sync", {}).get("status") == "Synced")

    await kube.patch(API_VERSION, "Application", "app", namespace, {"spec": {"project": "narrow"}})
    status = await apps.wait_status(kube, namespace, "app", refused)
    assert "sourceRepos" in apps.condition(status, "ValidationError")["message"]  # type: ignore[index]

    # editing the Project itself is re-checked too
    await kube.patch(API_VERSION, "Project", "narrow", namespace, {"spec": {"sourceRepos": ["*"]}})
    await apps.wait_status(kube, namespace, "app", lambda s: not refused(s) and s["sync"]["status"] == "Synced")


async def test_missing_project_is_refused(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    await kube.create(apps.application("app", namespace, repo_url, project="nope"))
    status = await apps.wait_status(kube, namespace, "app", refused)
    assert apps.condition(status, "ValidationError")["reason"] == "ProjectNotFound"  # type: ignore[index]


async def test_a_project_serves_the_application_namespaces_it_lists(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    spec = {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": "*"}], "sourceNamespaces": [namespace]}
    await kube.create(apps.project("tenant", namespace, spec))
    await kube.create(apps.application("app", namespace, repo_url, project="tenant"))
    await apps.wait_status(kube, namespace, "app", lambda s: s.get("sync", {}).get("status") == "Synced")
