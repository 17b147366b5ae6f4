"""Rollout Events reach the notification engine (SPEC §10, §14): an Alert on `kind: Rollout` delivers
the rollback of a bad canary to a loopback receiver, in the documented `generic` shape."""

from __future__ import annotations

from typing import Any

from tests.support import apps
from tests.support import rollouts as r
from tests.support.notifications import alert, provider
from tests.support.receivers import generic, receiver

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient


async def test_a_rollback_is_notified_as_an_error_of_the_rollout(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "hook", type="generic", address=f"{hook.url}/rollouts")
        await alert(
            kube,
            namespace,
            "rollouts",
            "hook",
            eventSources=[{"kind": "Rollout", "name": "web"}],
            eventSeverity="error",
        )
        await kube.create(r.deployment("web", namespace, "v1"))
        await kube.create(r.service("web", namespace, "web"))
        await kube.create(r.rollout("web", namespace, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}))
        await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
        await r.set_version(kube, namespace, "v2")
        paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
        await r.operate(kube, namespace, "web", ro.ABORT, "1")

        def aborted() -> list[Any]:
            return [b for b in hook.bodies("/rollouts") if b["reason"] == "Aborted"]

        [body] = await apps.wait_for(aborted, 60, message="the Aborted notification")
        assert body["involvedObject"] == {"kind": "Rollout", "namespace": namespace, "name": "web"}
        assert body["severity"] == "error" and paused["canaryRevision"] in body["message"]
        assert all(b["severity"] == "error" for b in hook.bodies("/rollouts"))  # info (RolloutStarted) filtered out
        assert hook.violations == []
