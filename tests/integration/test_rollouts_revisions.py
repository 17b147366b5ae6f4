"""New pod templates that arrive while a Rollout is busy (SPEC §10): before the first revision's
primary is running, and one after another during a canary. The newest template always wins, and
the rollout never stalls: the primary starts with the stable template, and a newer template is
delivered as a canary once the primary runs (Flagger restarts the analysis on a new revision).

The Deployment and Service are created directly, as an Application would apply them; the node
simulator runs the pods.
"""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support import rollouts as r
from tests.support.rollouts import PRIMARY

from gitward.controller.manager import Controller
from gitward.controller.rollouts import objects
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient

QUICK = {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}]}}
MANUAL = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}


async def _revision(kube: KubeClient, namespace: str) -> str:
    return objects.revision_of(await kube.get("apps/v1", "Deployment", "web", namespace))


async def _primary_runs(kube: KubeClient, namespace: str, version: str, revision: str) -> dict[str, Any] | None:
    """web-primary runs `version` (annotated with `revision`), both replicas available."""
    primary = await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace)
    if primary is None:
        return None
    image = primary["spec"]["template"]["spec"]["containers"][0]["image"]
    annotated = primary["metadata"]["annotations"].get(ro.REVISION_ANNOTATION)
    available = int((primary.get("status") or {}).get("availableReplicas") or 0)
    ok = image == f"example.invalid/web:{version}" and annotated == revision and available >= 2
    return primary if ok else None


async def _promoted(kube: KubeClient, namespace: str, version: str, revision: str) -> dict[str, Any]:
    done = await r.wait_rollout(
        kube, namespace, "web", lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") == revision
    )
    primary = await apps.wait_for(
        lambda: _primary_runs(kube, namespace, version, revision), message=f"web-primary running {version}"
    )
    assert primary["spec"]["selector"]["matchLabels"] == PRIMARY
    await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="target scaled to 0")
    return done


async def _replicas_are(kube: KubeClient, namespace: str, count: int) -> bool:
    return await r.replicas(kube, namespace, "web") == count


async def _create(kube: KubeClient, namespace: str, strategy: dict[str, Any]) -> None:
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, strategy))


async def test_a_new_template_right_after_the_rollout_appears_is_delivered(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await _create(kube, namespace, QUICK)
    await r.set_version(kube, namespace, "v2")
    newest = await _revision(kube, namespace)
    done = await _promoted(kube, namespace, "v2", newest)
    assert done["canaryRevision"] == newest and done["canaryWeight"] == 0


async def test_a_new_template_while_the_first_primary_is_being_created_becomes_a_canary(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await _create(kube, namespace, QUICK)
    first = await r.wait_rollout(kube, namespace, "web", lambda s: bool(s.get("stableRevision")))
    primary = await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace)
    assert not (primary or {}).get("status", {}).get("availableReplicas")  # not running yet
    await r.set_version(kube, namespace, "v2")
    newest = await _revision(kube, namespace)
    assert newest != first["stableRevision"]
    done = await _promoted(kube, namespace, "v2", newest)
    assert (done["history"][-1]["revision"], done["history"][-1]["result"]) == (newest, "Promoted")


async def test_two_new_templates_in_quick_succession_during_a_canary_analyse_the_newest(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await _create(kube, namespace, MANUAL)
    first = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await r.set_version(kube, namespace, "v2")
    await r.wait_rollout(kube, namespace, "web", r.phase("Progressing", first["stableRevision"]))
    await r.set_version(kube, namespace, "v3")
    await r.set_version(kube, namespace, "v4")
    newest = await _revision(kube, namespace)
    paused = await r.wait_rollout(
        kube, namespace, "web", lambda s: s.get("phase") == "Paused" and s.get("canaryRevision") == newest
    )
    assert (paused["currentStep"], paused["canaryWeight"]) == (1, 50)
    assert paused["stableRevision"] == first["stableRevision"]  # the primary still runs v1
    await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
    await _promoted(kube, namespace, "v4", newest)
