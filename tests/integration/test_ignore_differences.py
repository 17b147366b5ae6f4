"""spec.ignoreDifferences (SPEC §13): fields named by JSON pointer, or owned by the listed field
managers, are neither applied over nor counted as drift; and what gitward's Rollout controller owns
(field manager `gitward-rollout`) no Application fights. Each test proves the field was left alone
after a later sync of a new commit, which would have reverted it without the rule."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube import errors
from gitward.kube.client import KubeClient


def deployment(tier: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{tier: {tier}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


async def _deployment(kube: KubeClient, namespace: str) -> dict[str, Any]:
    return await kube.get("apps/v1", "Deployment", "web", namespace)


async def _scale_as(kube: KubeClient, namespace: str, manager: str, replicas: int) -> None:
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
             "spec": {"replicas": replicas}}  # fmt: skip
    await kube.apply(patch, field_manager=manager)


async def _refresh_and_wait(kube: KubeClient, namespace: str, request: str) -> dict[str, Any]:
    await kube.patch(apps.API_VERSION, "Application", "web", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": request}}})  # fmt: skip
    return await apps.wait_status(kube, namespace, "web", apps.refreshed(request))


async def test_a_json_pointer_is_neither_reverted_nor_drift_and_a_new_commit_keeps_it(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"deployment.yaml": deployment("frontend")})
    url = git_http_server.publish(repo, "config.git")
    rule = [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    await kube.create(apps.application("web", namespace, url, ignoreDifferences=rule))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    assert (await _deployment(kube, namespace))["spec"]["replicas"] == 2  # created with Git's value

    await _scale_as(kube, namespace, "someone", 5)
    status = await _refresh_and_wait(kube, namespace, "after-scale")
    assert status["sync"]["status"] == "Synced"

    repo.commit({"deployment.yaml": deployment("backend")})
    git_http_server.publish(repo, "config.git")
    await _refresh_and_wait(kube, namespace, "new-commit")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    live = await _deployment(kube, namespace)
    assert live["metadata"]["labels"]["tier"] == "backend"  # the new commit was written ...
    assert live["spec"]["replicas"] == 5  # ... with the live value of the ignored field


async def test_fields_owned_by_a_listed_manager_are_left_to_it(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"deployment.yaml": deployment("frontend")})
    url = git_http_server.publish(repo, "config.git")
    rule = [{"group": "apps", "kind": "Deployment", "name": "web", "managedFieldsManagers": ["autoscaler"]}]
    await kube.create(apps.application("web", namespace, url, ignoreDifferences=rule))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    await _scale_as(kube, namespace, "autoscaler", 4)
    status = await _refresh_and_wait(kube, namespace, "after-autoscaler")
    assert status["sync"]["status"] == "Synced"

    await _scale_as(kube, namespace, "someone-else", 6)  # not listed: reverted to Git's 2
    await apps.wait_for(
        lambda: _replicas_are(kube, namespace, 2), timeout=20, message="the unlisted writer's change reverted"
    )

    await _scale_as(kube, namespace, "autoscaler", 4)  # the autoscaler owns replicas again
    repo.commit({"deployment.yaml": deployment("backend")})
    git_http_server.publish(repo, "config.git")
    await _refresh_and_wait(kube, namespace, "new-commit")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    live = await _deployment(kube, namespace)
    assert live["metadata"]["labels"]["tier"] == "backend"
    assert live["spec"]["replicas"] == 4


async def _replicas_are(kube: KubeClient, namespace: str, replicas: int) -> bool:
    return bool((await _deployment(kube, namespace))["spec"]["replicas"] == replicas)


async def test_what_the_rollout_controller_owns_is_never_fought(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"deployment.yaml": deployment("frontend"), "service.yaml": SERVICE})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    await _scale_as(kube, namespace, "gitward-rollout", 0)
    selector = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
                "spec": {"selector": {"app": "web-primary"}}}  # fmt: skip
    await kube.apply(selector, field_manager="gitward-rollout")
    status = await _refresh_and_wait(kube, namespace, "after-rollout")
    assert status["sync"]["status"] == "Synced"

    repo.commit({"deployment.yaml": deployment("backend"), "service.yaml": SERVICE})
    git_http_server.publish(repo, "config.git")
    await _refresh_and_wait(kube, namespace, "new-commit")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    assert (await _deployment(kube, namespace))["spec"]["replicas"] == 0
    service = await kube.get("v1", "Service", "web", namespace)
    assert service["spec"]["selector"] == {"app": "web-primary"}


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "Deployment", "jsonPointers": ["spec/replicas"]},
        {"kind": "Deployment", "managedFieldsManagers": ["evil\nheader"]},
        {"kind": "Deploy ment"},
    ],
)
async def test_an_invalid_rule_is_refused_by_the_api_server(
    kube: KubeClient, namespace: str, rule: dict[str, Any]
) -> None:
    app = apps.application("bad", namespace, "https://example.com/x.git", ignoreDifferences=[rule])
    with pytest.raises(errors.KubeError, match="ignoreDifferences"):
        await kube.create(app)
