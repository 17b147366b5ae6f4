"""`spec.dependsOn` on the real control plane: an Application waits (and says why) until what it
depends on is Synced and Healthy at its current revision, then syncs on its own; a dependency cycle
is reported on every member and syncs nothing, until it is broken."""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller import operations
from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '1'\n"


def held(reason: str, *words: str) -> Any:
    def check(s: apps.Status) -> bool:
        ready = apps.condition(s, "Ready")
        return bool(ready and ready["reason"] == reason and all(w in ready["message"] for w in words))

    return check


async def test_an_application_waits_for_its_dependencies(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"db/cm.yaml": configmap("db"), "web/cm.yaml": configmap("web"), "api/cm.yaml": configmap("api")})
    url = git_http_server.publish(repo, "config.git")
    sha = repo.head()
    # db syncs only when asked (no automated policy); web waits for db; api waits for web
    await kube.create(apps.application("db", namespace, url, "db", syncPolicy={"interval": "1m"}))
    await kube.create(apps.application("web", namespace, url, "web", dependsOn=[{"name": "db"}]))
    await kube.create(
        apps.application("api", namespace, url, "api", dependsOn=[{"name": "web", "namespace": namespace}])
    )

    status = await apps.wait_status(kube, namespace, "web", held("DependenciesNotReady", f"{namespace}/db"))
    assert apps.condition(status, "Reconciling")["status"] == "True"  # type: ignore[index]
    await apps.wait_status(kube, namespace, "api", held("DependenciesNotReady", f"{namespace}/web"))
    assert await kube.get_or_none("v1", "ConfigMap", "web", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "api", namespace) is None

    await kube.patch(
        API_VERSION,
        "Application",
        "db",
        namespace,
        {"metadata": {"annotations": {"gitward.dev/sync": operations.sync_request()}}},
    )
    for name in ("db", "web", "api"):
        await apps.wait_status(kube, namespace, name, apps.all_of(apps.synced_at(sha), apps.healthy))
    created = {
        n: (await kube.get("v1", "ConfigMap", n, namespace))["metadata"]["creationTimestamp"]
        for n in ("db", "web", "api")
    }
    assert created["db"] <= created["web"] <= created["api"]

    # a dependency that cannot deploy its new revision holds its dependents at the old one
    broken = repo.commit({"db/cm.yaml": "kind: [broken", "web/cm.yaml": configmap("web") + "  more: '2'\n"})
    git_http_server.publish(repo, "config.git")
    await kube.patch(
        API_VERSION,
        "Application",
        "db",
        namespace,
        {"metadata": {"annotations": {"gitward.dev/sync": operations.sync_request()}}},
    )
    await apps.wait_status(kube, namespace, "db", lambda s: s.get("lastAttemptedRevision") == broken)
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", held("DependenciesNotReady", "newest revision"))
    assert "more" not in (await kube.get("v1", "ConfigMap", "web", namespace))["data"]


async def test_a_cycle_is_reported_on_every_member_and_never_waited_on(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"a/cm.yaml": configmap("a"), "b/cm.yaml": configmap("b"), "c/cm.yaml": configmap("c")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("a", namespace, url, "a", dependsOn=[{"name": "b"}]))
    await kube.create(apps.application("b", namespace, url, "b", dependsOn=[{"name": "c"}]))
    await kube.create(apps.application("c", namespace, url, "c", dependsOn=[{"name": "a"}]))
    for name in ("a", "b", "c"):
        status = await apps.wait_status(
            kube, namespace, name, held("DependencyCycle", f"{namespace}/a", f"{namespace}/b", f"{namespace}/c")
        )
        assert apps.condition(status, "Ready")["message"].startswith(f"dependency cycle: {namespace}/{name} → ")  # type: ignore[index]
    for name in ("a", "b", "c"):
        assert await kube.get_or_none("v1", "ConfigMap", name, namespace) is None

    # broken: c depends on nothing any more; c, then b, then a sync
    await kube.patch(API_VERSION, "Application", "c", namespace, {"spec": {"dependsOn": None}})
    for name in ("c", "b", "a"):
        await apps.wait_status(kube, namespace, name, apps.all_of(apps.synced_at(repo.head()), apps.healthy))
