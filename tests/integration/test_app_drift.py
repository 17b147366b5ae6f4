"""Drift: an out-of-band edit of a managed field is reverted within seconds with selfHeal, and is
reported as OutOfSync without it; a manual sync (annotation) then fixes it. Edits of several objects
are each reverted at once; only one object that another writer keeps changing back is backed off
from (a drift fight, reported), while the Application's other objects are still repaired."""

from __future__ import annotations

import subprocess

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {tier: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


def kubectl(cluster: ClusterUnderTest, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", cluster.kubeconfig, *args], capture_output=True, text=True, check=True
    ).stdout


async def _replicas(kube: KubeClient, namespace: str) -> int:
    return int((await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"])


async def test_self_heal_reverts_an_edit(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    repo.commit({"deployment.yaml": DEPLOYMENT})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    kubectl(test_cluster, "-n", namespace, "scale", "deployment/web", "--replicas=5")
    await apps.wait_for(lambda: _is(kube, namespace, 2), timeout=15, message="replicas reverted to 2")
    kubectl(test_cluster, "-n", namespace, "label", "deployment/web", "tier-")
    await apps.wait_for(lambda: _label(kube, namespace), timeout=15, message="label restored")


async def _is(kube: KubeClient, namespace: str, replicas: int) -> bool:
    return await _replicas(kube, namespace) == replicas


async def _label(kube: KubeClient, namespace: str) -> bool:
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    return bool(deployment["metadata"].get("labels", {}).get("tier") == "frontend")


async def test_without_self_heal_drift_is_reported_then_synced_manually(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    sha = repo.commit({"deployment.yaml": DEPLOYMENT})
    url = git_http_server.publish(repo, "config.git")
    policy = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
    await kube.create(apps.application("web", namespace, url, syncPolicy=policy))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    kubectl(test_cluster, "-n", namespace, "scale", "deployment/web", "--replicas=4")
    status = await apps.wait_status(kube, namespace, "web", lambda s: s["sync"]["status"] == "OutOfSync")
    row = next(r for r in status["resources"] if r["kind"] == "Deployment")
    assert row["status"] == "OutOfSync"
    assert "spec.replicas" in row["message"]
    assert await _replicas(kube, namespace) == 4, "without selfHeal the edit must stay"

    await kube.patch(
        "gitward.dev/v1alpha1", "Application", "web", namespace,
        {"metadata": {"annotations": {"gitward.dev/sync": "{}"}}},
    )  # fmt: skip
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    assert await _replicas(kube, namespace) == 2


# ------------------------------------------------------------------------------------ drift fights

QUIET = {"automated": {"prune": True, "selfHeal": True}, "interval": "10m"}  # a stall would outlast every wait


def configmap(name: str, value: str = "git") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n"


async def _value(kube: KubeClient, namespace: str, name: str) -> str:
    return str((await kube.get("v1", "ConfigMap", name, namespace))["data"]["value"])


async def _edit(kube: KubeClient, namespace: str, name: str, value: str, manager: str) -> None:
    """An out-of-band change by another field manager (server-side apply, forced: it takes the field)."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
    await kube.apply({**body, "data": {"value": value}}, field_manager=manager, force=True)


async def _reverted(kube: KubeClient, namespace: str, name: str, timeout: float = 15) -> None:
    async def back() -> bool:
        return await _value(kube, namespace, name) == "git"

    await apps.wait_for(back, timeout=timeout, message=f"ConfigMap {name} reverted to its value in Git")


async def _fights(kube: KubeClient, namespace: str) -> list[str]:
    events, _ = await kube.list("v1", "Event", namespace)
    return [str(e.get("message")) for e in events if e.get("reason") == "DriftFight"]


def _fight_condition(status: apps.Status) -> dict[str, str] | None:
    condition = apps.condition(status, "Reconciling")
    return condition if condition is not None and condition.get("reason") == "DriftFight" else None


async def test_edits_of_several_objects_are_all_reverted(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """A person editing a few objects is no fight: each edit is reverted at once, also the fourth
    (the Application's interval is 10m: nothing but the edit's watch event can revert it in time)."""
    names = ["cm-a", "cm-b", "cm-c", "cm-d"]
    repo = make_repo()
    sha = repo.commit({f"{n}.yaml": configmap(n) for n in names})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url, syncPolicy=QUIET))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    for name in names:  # one after the other, each once the previous one was reverted
        await _edit(kube, namespace, name, "edited", "person")
        await _reverted(kube, namespace, name)
    for name in names:  # all four at once
        await _edit(kube, namespace, name, "edited-again", "person")
    for name in names:
        await _reverted(kube, namespace, name)

    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert _fight_condition(status) is None
    assert await _fights(kube, namespace) == []


async def test_an_object_fought_over_backs_off_alone_and_is_reverted_after_the_fight(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"fought.yaml": configmap("fought"), "other.yaml": configmap("other")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url, syncPolicy=QUIET))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    # the intruder sets its value again as soon as it sees gitward's, or after a second at most
    writes = corrections = 0
    while corrections < 5:  # after its 5th correction gitward waits 20 s or more before the next
        assert writes < 200, f"gitward corrected {corrections} of the intruder's {writes} writes"
        writes += 1
        await _edit(kube, namespace, "fought", f"intruder-{writes}", "intruder")
        try:
            await _reverted(kube, namespace, "fought", timeout=1)
            corrections += 1
        except AssertionError:
            pass  # not reverted: gitward backs off
    assert writes >= 2 * corrections, f"{corrections} corrections of {writes} writes: no back-off"

    writes += 1
    await _edit(kube, namespace, "fought", f"intruder-{writes}", "intruder")  # held now, for 20 s or more
    await _edit(kube, namespace, "other", "edited", "person")
    await _reverted(kube, namespace, "other")  # meanwhile the other object is still repaired
    assert await _value(kube, namespace, "fought") == f"intruder-{writes}", "the fought object is held"

    status = await apps.wait_status(kube, namespace, "app", lambda s: _fight_condition(s) is not None)
    message = (_fight_condition(status) or {})["message"]
    assert f"ConfigMap/{namespace}/fought" in message and '"intruder"' in message, message
    events = await _fights(kube, namespace)
    assert len(events) == 1 and f"ConfigMap/{namespace}/fought" in events[0] and '"intruder"' in events[0]

    # the intruder has stopped: the requeue at the end of the back-off reverts the object (the interval
    # is 10m), and once it stayed in sync for the fight window the condition goes
    await _reverted(kube, namespace, "fought", timeout=120)
    status = await apps.wait_status(
        kube, namespace, "app", lambda s: apps.synced_at(sha)(s) and _fight_condition(s) is None, timeout=120
    )
    assert (apps.condition(status, "Ready") or {}).get("status") == "True"
    assert len(await _fights(kube, namespace)) == 1
