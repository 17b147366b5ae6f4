"""Immutable fields (SPEC §13): a change to a Job's template cannot be applied in place. Without the
opt-in the sync fails naming the field and the annotation to set, and the old Job stays; with
`gitward.dev/sync-options: Replace=true` (or syncOptions Replace=true for the whole Application) the
Job is deleted and created again from Git."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def job(version: str, annotations: str = "{}") -> str:
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {annotations}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
          env: [{{name: VERSION, value: "{version}"}}]
"""


def _env(job: dict[str, Any]) -> str:
    return str(job["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])


async def test_an_immutable_change_fails_naming_the_field_and_the_opt_in(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"job.yaml": job("1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    before = await kube.get("batch/v1", "Job", "migrate", namespace)

    repo.commit({"job.yaml": job("2")})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")

    def refused(status: apps.Status) -> bool:
        message = str((status.get("operationState") or {}).get("message", "")) + str(status.get("conditions"))
        return "immutable" in message

    status = await apps.wait_status(kube, namespace, "web", refused)
    text = str(status)
    assert "spec.template" in text
    assert "gitward.dev/sync-options: Replace=true" in text
    assert "core.PodTemplateSpec" not in text  # never the API server's dump of the old object
    after = await kube.get("batch/v1", "Job", "migrate", namespace)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert _env(after) == "1"


@pytest.mark.parametrize("where", ["annotation", "syncOptions"])
async def test_replace_deletes_and_recreates_the_job(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    where: str,
) -> None:
    annotations = '{"gitward.dev/sync-options": "Replace=true"}' if where == "annotation" else "{}"
    extra: dict[str, Any] = {}
    if where == "syncOptions":
        extra["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["Replace=true"]}
    repo = make_repo()
    repo.commit({"job.yaml": job("1", annotations)})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, **extra))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    before = await kube.get("batch/v1", "Job", "migrate", namespace)

    repo.commit({"job.yaml": job("2", annotations)})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    after = await kube.get("batch/v1", "Job", "migrate", namespace)
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert _env(after) == "2"
    results = status["operationState"]["syncResult"]["resources"]
    assert any(r["kind"] == "Job" and r["message"].startswith("replaced") for r in results)
