"""An Application deploying Deployment + Service + Rollout from Git does not fight the rollout
(SPEC §10, §13): the target's replicas and the Service's selector, owned by the field manager
`gitward-rollout`, are neither reverted nor drift, through re-checks and new commits; the
Application's health follows the Rollout's phase."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from tests.support import apps
from tests.support import rollouts as r
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.rollouts import PRIMARY

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient


def _manifests(namespace: str, version: str) -> dict[str, str]:
    rollout = r.rollout("web", namespace, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    objects = {
        "deployment.yaml": r.deployment("web", namespace, version),
        "service.yaml": r.service("web", namespace, "web"),
        "rollout.yaml": rollout,
    }
    for obj in objects.values():
        obj["metadata"].pop("namespace")
    objects["deployment.yaml"]["spec"]["template"]["metadata"]["annotations"] = {"v": version}
    return {path: yaml.safe_dump(obj) for path, obj in objects.items()}


def _health(expected: str) -> Callable[[apps.Status], bool]:
    return lambda s: (s.get("health") or {}).get("status") == expected


async def _untouched(kube: KubeClient, namespace: str) -> None:
    assert await r.replicas(kube, namespace, "web") == 0
    assert (await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == PRIMARY


async def test_an_application_deploying_deployment_service_and_rollout_does_not_fight_the_rollout(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(_manifests(namespace, "v1"), message="v1")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    first = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="target scaled to 0")
    await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web to the primary")

    await kube.patch(
        apps.API_VERSION, "Application", "web", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "one"}}}
    )
    status = await apps.wait_status(
        kube, namespace, "web", apps.all_of(apps.refreshed("one"), apps.synced_at(repo.head()), _health("Healthy"))
    )
    assert (
        apps.condition(status, "Reconciling") is None or apps.condition(status, "Reconciling")["reason"] != "DriftFight"
    )
    await _untouched(kube, namespace)

    repo.commit(_manifests(namespace, "v2"), message="v2")
    git_http_server.publish(repo, "config.git")
    await kube.patch(
        apps.API_VERSION, "Application", "web", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "two"}}}
    )
    paused = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Paused" and s.get("canaryRevision") != first["stableRevision"],
    )
    await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(repo.head()), _health("Suspended")))
    assert await r.replicas(kube, namespace, "web") == 1  # the canary's size, kept by the rollout, not Git's 2
    # replica-based traffic: the Service reaches both versions; a re-check neither reverts nor reports it
    await apps.wait_for(lambda: _selector_is(kube, namespace, {"app": "web"}), message="Service to both versions")
    await kube.patch(
        apps.API_VERSION,
        "Application",
        "web",
        namespace,
        {"metadata": {"annotations": {"gitward.dev/refresh": "paused"}}},
    )
    status = await apps.wait_status(
        kube, namespace, "web", apps.all_of(apps.refreshed("paused"), apps.synced_at(repo.head()))
    )
    assert status["sync"]["status"] == "Synced"
    assert await _selector_is(kube, namespace, {"app": "web"}) and await r.replicas(kube, namespace, "web") == 1

    await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
    await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") == paused["canaryRevision"],
    )
    await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(repo.head()), _health("Healthy")))
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="canary scaled to 0")
    await kube.patch(
        apps.API_VERSION,
        "Application",
        "web",
        namespace,
        {"metadata": {"annotations": {"gitward.dev/refresh": "three"}}},
    )
    status = await apps.wait_status(
        kube, namespace, "web", apps.all_of(apps.refreshed("three"), apps.synced_at(repo.head()))
    )
    assert (status["sync"]["status"], status["health"]["status"]) == ("Synced", "Healthy")
    await _untouched(kube, namespace)
    primary = await kube.get("apps/v1", "Deployment", "web-primary", namespace)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/web:v2"
    assert "gitward.dev/tracking-id" not in (primary["metadata"].get("annotations") or {})  # not the Application's
    node = next(r for r in status["resources"] if r["kind"] == "Rollout")
    assert node["health"]["status"] == "Healthy"


async def _replicas_are(kube: KubeClient, namespace: str, count: int) -> bool:
    return await r.replicas(kube, namespace, "web") == count


async def _selector_is(kube: KubeClient, namespace: str, selector: dict[str, str]) -> bool:
    return bool((await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == selector)
