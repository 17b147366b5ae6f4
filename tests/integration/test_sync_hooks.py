"""Sync hooks (SPEC §13): PreSync Jobs run before anything of a revision is applied and a failed one
stops the sync with the last good revision untouched (SyncFail hooks then run); PostSync after the
objects were applied; hooks run once per sync operation, never on re-checks; delete policies.
The node simulator (no kubelet here) runs Job pods to completion; the pod template annotation
`nodesim.gitward.dev/phase: Failed` makes one fail."""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: '{value}'\n"


def hook(name: str, phase: str, *, fail: bool = False, policy: str = "", kind: str = "Job") -> str:
    pod_annotations = '{"nodesim.gitward.dev/phase": "Failed"}' if fail else "{}"
    annotations = f'"gitward.dev/hook": {phase}' + (f', "gitward.dev/hook-delete-policy": {policy}' if policy else "")
    if kind == "Pod":
        return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations: {{{annotations}, "nodesim.gitward.dev/phase": {"Failed" if fail else "Succeeded"}}}
spec:
  restartPolicy: Never
  containers: [{{name: main, image: busybox:1.36}}]
"""
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations: {{{annotations}}}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {pod_annotations}
    spec:
      restartPolicy: Never
      containers: [{{name: main, image: busybox:1.36}}]
"""


def _hook_results(status: apps.Status) -> dict[str, str]:
    rows = (status.get("operationState") or {}).get("hooks") or []
    return {f"{r['phase']} {r['kind']}/{r['name']}": r["result"] for r in rows}


async def _uid(kube: KubeClient, kind: str, name: str, namespace: str) -> str | None:
    api = "batch/v1" if kind == "Job" else "v1"
    found = await kube.get_or_none(api, kind, name, namespace)
    return None if found is None else str(found["metadata"]["uid"])


async def test_pre_and_post_sync_hooks_run_once_around_the_sync(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({
        "cm.yaml": configmap("1"),
        "migrate.yaml": hook("migrate", "PreSync"),
        "smoke.yaml": hook("smoke", "PostSync", kind="Pod"),
        "cleanup.yaml": hook("cleanup", "PostSync", policy="HookSucceeded"),
    })  # fmt: skip
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()), timeout=90)
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("operationState") or {}).get("phase") == "Succeeded", timeout=90
    )
    assert _hook_results(status) == {
        "PreSync Job/migrate": "Succeeded",
        "PostSync Pod/smoke": "Succeeded",
        "PostSync Job/cleanup": "Succeeded",
    }
    assert {r["name"] for r in status["resources"]} == {"settings"}  # hooks are not resources of the app
    assert "migrate" not in str(status.get("inventory"))
    assert await _uid(kube, "Job", "cleanup", namespace) is None  # HookSucceeded: deleted
    migrate = await _uid(kube, "Job", "migrate", namespace)
    assert migrate is not None

    # a re-check is not a sync operation: the hooks do not run again
    await kube.patch(apps.API_VERSION, "Application", "web", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "again"}}})  # fmt: skip
    await apps.wait_status(kube, namespace, "web", apps.refreshed("again"))
    assert await _uid(kube, "Job", "migrate", namespace) == migrate

    # a new revision is a new operation: BeforeHookCreation (the default) replaces the old hook
    repo.commit({"cm.yaml": configmap("2")})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()), timeout=90)
    await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("operationState") or {}).get("phase") == "Succeeded", timeout=90
    )
    renewed = await _uid(kube, "Job", "migrate", namespace)
    assert renewed is not None
    assert renewed != migrate


async def test_a_failed_pre_sync_hook_stops_the_sync_and_runs_sync_fail_hooks(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    good = repo.commit({"cm.yaml": configmap("1")})
    url = git_http_server.publish(repo, "config.git")
    spec: dict[str, Any] = {"syncPolicy": {"automated": {"prune": True}, "retry": {"limit": 0}}}
    await kube.create(apps.application("web", namespace, url, **spec))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(good))

    repo.commit({
        "cm.yaml": configmap("2"),
        "migrate.yaml": hook("migrate", "PreSync", fail=True),
        "alert.yaml": hook("alert", "SyncFail"),
    })  # fmt: skip
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("operationState") or {}).get("phase") == "Failed", timeout=90
    )
    assert f"PreSync hook Job/{namespace}/migrate failed" in status["operationState"]["message"]
    assert _hook_results(status)["PreSync Job/migrate"] == "Failed"
    assert (await kube.get("v1", "ConfigMap", "settings", namespace))["data"] == {"value": "1"}  # untouched
    assert status["lastSyncedRevision"] == good
    assert await _uid(kube, "Job", "alert", namespace) is not None  # the SyncFail hook was started


async def test_a_hook_on_another_kind_refuses_the_revision(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    bad = configmap("1").replace("name: settings", "name: settings\n  annotations: {gitward.dev/hook: PreSync}")
    repo.commit({"cm.yaml": bad})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))

    def refused(status: apps.Status) -> bool:
        return "is only for a Job or a Pod" in str(status.get("conditions"))

    await apps.wait_status(kube, namespace, "web", refused)
    assert await kube.get_or_none("v1", "ConfigMap", "settings", namespace) is None
