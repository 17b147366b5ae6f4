"""Project sync windows (SPEC §13): outside its windows an Application's automated sync is held with
a condition saying which window holds it and when the next one opens; a manual sync passes only a
window with manualSync; removing the window lets the held sync run."""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"
ALWAYS = {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["frozen-*"]}


def project(namespace: str, windows: list[dict[str, Any]]) -> dict[str, Any]:
    spec = {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": "*"}], "syncWindows": windows}
    return {"apiVersion": API_VERSION, "kind": "Project", "metadata": {"name": "team", "namespace": namespace},
            "spec": spec}  # fmt: skip


def held(status: apps.Status) -> bool:
    cond = apps.condition(status, "SyncWindow")
    return cond is not None and cond["status"] == "True"


async def test_a_deny_window_holds_automated_and_manual_syncs_until_removed(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(project(namespace, [ALWAYS]))
    await kube.create(apps.application("frozen-app", namespace, url, project="team"))

    status = await apps.wait_status(kube, namespace, "frozen-app", held)
    message = apps.condition(status, "SyncWindow")["message"]  # type: ignore[index]
    assert "automated sync held by deny window '* * * * *' (1h00m)" in message
    assert "the next window opens at" not in message  # always active: none within the look-ahead
    assert status["sync"]["status"] == "OutOfSync"
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None

    await kube.patch(API_VERSION, "Application", "frozen-app", namespace,
                     {"metadata": {"annotations": {"gitward.dev/sync": "{}"}}})  # fmt: skip
    status = await apps.wait_status(kube, namespace, "frozen-app", lambda s: s.get("lastHandledSync") == "{}")
    assert "manual sync held" in apps.condition(status, "SyncWindow")["message"]  # type: ignore[index]
    assert status["sync"]["status"] == "OutOfSync"

    await kube.patch(
        API_VERSION, "Project", "team", namespace, {"spec": {"syncWindows": [{**ALWAYS, "manualSync": True}]}}
    )
    await kube.patch(API_VERSION, "Application", "frozen-app", namespace,
                     {"metadata": {"annotations": {"gitward.dev/sync": '{"prune": true}'}}})  # fmt: skip
    status = await apps.wait_status(kube, namespace, "frozen-app", apps.synced_at(repo.head()))
    assert apps.condition(status, "SyncWindow") is None


async def test_the_window_opening_lets_the_held_sync_run(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(project(namespace, [ALWAYS]))
    await kube.create(apps.application("frozen-app", namespace, url, project="team"))
    await apps.wait_status(kube, namespace, "frozen-app", held)
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None

    await kube.patch(API_VERSION, "Project", "team", namespace, {"spec": {"syncWindows": []}})
    status = await apps.wait_status(kube, namespace, "frozen-app", apps.synced_at(repo.head()))
    assert apps.condition(status, "SyncWindow") is None
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"a": "b"}
