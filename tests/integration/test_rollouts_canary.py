"""Canary Rollouts on the real control plane, traffic by replica counts (SPEC §10).

The Deployment and Service are created directly, as an Application would apply them; the node
simulator runs the pods (a pod template annotated `nodesim.gitward.dev/phase: CrashLoopBackOff`
never becomes ready).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import apps
from tests.support import rollouts as r
from tests.support.rollouts import CANARY, PRIMARY

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient

MANUAL = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}


async def _deliver(kube: KubeClient, namespace: str, strategy: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """web (2 replicas, v1), Service web, Rollout web; returns the first Healthy status."""
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, strategy, **spec))
    # the next change may come at once: a template change while the primary is being created is
    # delivered as a canary (test_rollouts_revisions.py)
    return await r.wait_rollout(
        kube, namespace, "web", lambda s: s.get("phase") == "Healthy" and bool(s.get("stableRevision"))
    )


async def _image(kube: KubeClient, namespace: str, name: str) -> str:
    deployment = await kube.get("apps/v1", "Deployment", name, namespace)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_first_sight_moves_the_stable_version_to_the_primary(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    status = await _deliver(kube, namespace, MANUAL)
    primary = await apps.wait_for(
        lambda: kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace), message="primary"
    )
    assert primary["spec"]["selector"]["matchLabels"] == PRIMARY
    assert primary["spec"]["replicas"] == 2
    assert primary["metadata"]["annotations"][ro.REVISION_ANNOTATION] == status["stableRevision"]
    await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service to the primary")
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="target scaled to 0")
    apex = await kube.get("v1", "Service", "web", namespace)
    assert (await kube.get("v1", "Service", "web-canary", namespace))["spec"]["selector"] == CANARY
    assert (await kube.get("v1", "Service", "web-primary", namespace))["spec"]["ports"][0]["targetPort"] == 8080
    managers = {m["manager"] for m in apex["metadata"]["managedFields"]}
    assert ro.FIELD_MANAGER in managers


async def _replicas_are(kube: KubeClient, namespace: str, name: str, count: int) -> bool:
    return await r.replicas(kube, namespace, name) == count


async def test_a_good_canary_is_promoted(kube: KubeClient, namespace: str, controller: Controller) -> None:
    first = await _deliver(kube, namespace, {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}]}})
    await r.set_version(kube, namespace, "v2")
    running = await r.wait_rollout(kube, namespace, "web", lambda s: s.get("canaryWeight") == 50)
    assert running["stableRevision"] == first["stableRevision"] and running["canaryRevision"] != first["stableRevision"]
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 1), message="canary at ceil(50% of 2)")
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("stableRevision") == running["canaryRevision"] and s.get("phase") == "Healthy",
    )
    assert done["canaryWeight"] == 0
    assert [(h["revision"], h["result"]) for h in done["history"]] == [(running["canaryRevision"], "Promoted")]
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v2"
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="canary scaled to 0")
    await apps.wait_for(lambda: r.has_event(kube, namespace, "web", "Promoted"), message="Promoted Event")
    reasons = {e["reason"] for e in await r.events_of(kube, namespace, "web")}
    assert {"RolloutStarted", "Promoted"} <= reasons


async def test_a_canary_that_never_becomes_ready_is_rolled_back_at_the_deadline(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    first = await _deliver(kube, namespace, MANUAL, progressDeadlineSeconds=3)
    await r.set_version(kube, namespace, "v2", {r.SIM_PHASE: "CrashLoopBackOff"})
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["stableRevision"] == first["stableRevision"] and status["canaryWeight"] == 0
    assert status["history"][-1]["result"] == "RolledBack" and "deadline" in status["history"][-1]["message"]
    assert status["history"][-1]["revision"] != first["stableRevision"]
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v1"  # untouched
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="canary scaled to 0")
    await apps.wait_for(
        lambda: r.has_event(kube, namespace, "web", "RolledBack", "Warning"), message="RolledBack Event"
    )
    # a new revision starts a new rollout; until then the rolled-back one stays Degraded
    await r.set_version(kube, namespace, "v3")
    await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))


async def test_a_manual_pause_waits_for_promote(kube: KubeClient, namespace: str, controller: Controller) -> None:
    await _deliver(kube, namespace, MANUAL)
    await r.set_version(kube, namespace, "v2")
    paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    assert (paused["currentStep"], paused["canaryWeight"]) == (1, 50)
    # no traffic routing: the Service reaches the pods of both versions (2 primary + ceil(50% of 2))
    await apps.wait_for(lambda: _selector_is(kube, namespace, {"app": "web"}), message="Service to both")
    both = {"canary": 1, "primary": 2}
    await apps.wait_for(lambda: _ready_pods_are(kube, namespace, both), message="pods of both versions")
    await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("stableRevision") == paused["canaryRevision"] and s.get("phase") == "Healthy",
    )
    assert done["history"][-1]["result"] == "Promoted"
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v2"


async def test_abort_rolls_back_and_retry_starts_again(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    first = await _deliver(kube, namespace, MANUAL)
    await r.set_version(kube, namespace, "v2")
    paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    await r.operate(kube, namespace, "web", ro.ABORT, "now")
    aborted = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert aborted["history"][-1] == {
        **aborted["history"][-1],
        "result": "Aborted",
        "revision": paused["canaryRevision"],
    }
    assert aborted["stableRevision"] == first["stableRevision"]
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="canary scaled to 0")
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v1"
    await r.operate(kube, namespace, "web", ro.RETRY, "again")
    retried = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    assert retried["canaryRevision"] == paused["canaryRevision"]


async def test_a_new_template_during_a_rollout_restarts_with_the_newest(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await _deliver(kube, namespace, MANUAL)
    await r.set_version(kube, namespace, "v2")
    paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    await r.set_version(kube, namespace, "v3")
    again = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Paused" and s.get("canaryRevision") != paused["canaryRevision"],
    )
    await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("stableRevision") == again["canaryRevision"] and s.get("phase") == "Healthy",
    )
    assert [h["result"] for h in done.get("history") or []] == ["Promoted"]
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v3"


async def test_a_restarted_controller_resumes_mid_rollout_and_promotes_once(
    kube: KubeClient, namespace: str, crds: None, tmp_path: Path
) -> None:
    async with apps.running_controller(kube, namespace, tmp_path / "cache-1"):
        await _deliver(kube, namespace, MANUAL)
        await r.set_version(kube, namespace, "v2")
        paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    await r.operate(kube, namespace, "web", ro.PROMOTE, "while-down")
    async with apps.running_controller(kube, namespace, tmp_path / "cache-2"):
        done = await r.wait_rollout(
            kube,
            namespace,
            "web",
            lambda s: s.get("stableRevision") == paused["canaryRevision"] and s.get("phase") == "Healthy",
        )
        await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="canary scaled to 0")
    assert [h["result"] for h in done["history"]] == ["Promoted"]
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v2"


async def _ready_pods_are(kube: KubeClient, namespace: str, wanted: dict[str, int]) -> bool:
    return await _ready_pods(kube, namespace) == wanted


async def _ready_pods(kube: KubeClient, namespace: str) -> dict[str, int]:
    """Running pods that the Service `web` selects (app=web), by their track."""
    pods, _ = await kube.list("v1", "Pod", namespace, label_selector="app=web")
    counts: dict[str, int] = {}
    for pod in pods:
        if pod.get("status", {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            track = pod["metadata"]["labels"].get("gitward.dev/track", "")
            counts[track] = counts.get(track, 0) + 1
    return counts


async def _selector_is(kube: KubeClient, namespace: str, selector: dict[str, str]) -> bool:
    return bool((await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == selector)


async def test_deleting_a_rollout_gives_the_target_back(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await _deliver(kube, namespace, MANUAL)
    await apps.wait_for(lambda: _replicas_are(kube, namespace, "web", 0), message="target scaled to 0")
    rollout = await kube.get(ro.API_VERSION, "Rollout", "web", namespace)
    assert "gitward.dev/rollout-cleanup" in rollout["metadata"]["finalizers"]
    await kube.delete(ro.API_VERSION, "Rollout", "web", namespace)
    await apps.wait_for(lambda: _gone(kube, namespace), message="Rollout deleted")
    assert await r.replicas(kube, namespace, "web") == 2  # the primary's size: clients are served by the target
    assert (await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == {"app": "web"}
    await apps.wait_for(lambda: _primary_gone(kube, namespace), message="primary garbage-collected")


async def _gone(kube: KubeClient, namespace: str) -> bool:
    return await kube.get_or_none(ro.API_VERSION, "Rollout", "web", namespace) is None


async def _primary_gone(kube: KubeClient, namespace: str) -> bool:
    return await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace) is None
