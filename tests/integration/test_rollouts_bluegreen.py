"""Blue-green Rollouts (SPEC §10): the new version runs at full size behind `<service>-canary` (the
preview); promotion switches `<service>` to it while the primary takes the new template, then back
to the primary; the old pods go after `scaleDownDelaySeconds`."""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support import rollouts as r
from tests.support.rollouts import CANARY, PRIMARY

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient


async def _start(kube: KubeClient, namespace: str, blue_green: dict[str, Any]) -> dict[str, Any]:
    await kube.create(r.deployment("web", namespace, "v1", replicas=3))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, {"blueGreen": blue_green}))
    first = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await r.set_version(kube, namespace, "v2")
    return first


async def _replicas_are(kube: KubeClient, namespace: str, count: int) -> bool:
    return await r.replicas(kube, namespace, "web") == count


async def test_manual_blue_green_previews_then_promotes(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    first = await _start(kube, namespace, {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 0})
    paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    assert paused["stableRevision"] == first["stableRevision"]
    assert await r.replicas(kube, namespace, "web") == 3  # the preview runs at full size
    preview = await kube.get("v1", "Service", "web-canary", namespace)
    assert preview["spec"]["selector"] == CANARY
    apex = await kube.get("v1", "Service", "web", namespace)
    assert apex["spec"]["selector"] == PRIMARY  # clients stay on the old version
    await r.operate(kube, namespace, "web", ro.PROMOTE, "go")
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") == paused["canaryRevision"],
    )
    assert done["history"][-1]["result"] == "Promoted"
    primary = await kube.get("apps/v1", "Deployment", "web-primary", namespace)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/web:v2"
    await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web back to the primary")
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="old pods scaled down")


async def test_automatic_blue_green_promotes_after_its_delay_and_keeps_the_preview_for_the_scale_down_delay(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    first = await _start(
        kube, namespace, {"autoPromotionEnabled": True, "autoPromotionSeconds": 1, "scaleDownDelaySeconds": 8}
    )
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != first["stableRevision"],
    )
    assert done["history"][-1]["result"] == "Promoted" and done.get("scaleDownAt")
    assert await r.replicas(kube, namespace, "web") == 3  # kept for scaleDownDelaySeconds
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="scaled down after the delay")


async def _selector_is(kube: KubeClient, namespace: str, selector: dict[str, str]) -> bool:
    return bool((await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == selector)


async def test_a_failing_pre_promotion_analysis_rolls_back_without_switching(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    pod = {
        "metadata": {"annotations": {r.SIM_PHASE: "Failed"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "example.invalid/smoke:1"}]},
    }
    template = {
        "apiVersion": ro.API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke", "namespace": namespace},
        "spec": {"metrics": [{"name": "smoke", "provider": {"job": {"spec": {"template": pod}}}}]},
    }
    await kube.create(template)
    first = await _start(
        kube, namespace, {"prePromotionAnalysis": {"templates": [{"name": "smoke"}]}, "autoPromotionSeconds": 0}
    )
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["stableRevision"] == first["stableRevision"]
    assert status["history"][-1]["result"] == "RolledBack" and "smoke/smoke" in status["history"][-1]["message"]
    primary = await kube.get("apps/v1", "Deployment", "web-primary", namespace)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/web:v1"
    await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web on the primary")
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="preview scaled down")
