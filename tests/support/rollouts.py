"""Rollout test helpers: the Deployment/Service a Rollout delivers, the Rollout itself, waits.

Used by tests/integration/test_rollouts_*.py. The objects are created directly (as an Application
would apply them); the node simulator runs their pods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitward.core.rollouts import API_VERSION
from gitward.kube.client import KubeClient
from tests.support.apps import wait_for

Status = dict[str, Any]
PRIMARY = {"app": "web", "gitward.dev/track": "primary"}  # the selector of web-primary and its Service
CANARY = {"app": "web", "gitward.dev/track": "canary"}  # of web-canary: the target's pods
SIM_PHASE = "nodesim.gitward.dev/phase"  # the node simulator gives pods with it that outcome


def deployment(
    name: str, namespace: str, version: str, replicas: int = 2, pod_annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": dict(pod_annotations or {})},
                "spec": {"containers": [{"name": "web", "image": f"example.invalid/web:{version}"}]},
            },
        },
    }


def service(name: str, namespace: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def rollout(name: str, namespace: str, strategy: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "web"},
            "service": {"name": "web", "port": 80},
            "strategy": strategy,
            **spec,
        },
    }


async def set_version(
    kube: KubeClient, namespace: str, version: str, pod_annotations: dict[str, str] | None = None
) -> None:
    """A new pod template of the target, the way Git would change it (image and annotations only)."""
    annotations: dict[str, str | None] = {"v": version, SIM_PHASE: None, **(pod_annotations or {})}
    patch = {
        "spec": {
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"containers": [{"name": "web", "image": f"example.invalid/web:{version}"}]},
            }
        }
    }
    await kube.patch(
        "apps/v1", "Deployment", "web", namespace, patch, content_type="application/strategic-merge-patch+json"
    )


async def operate(kube: KubeClient, namespace: str, name: str, annotation: str, value: str) -> None:
    await kube.patch(API_VERSION, "Rollout", name, namespace, {"metadata": {"annotations": {annotation: value}}})


async def wait_rollout(
    kube: KubeClient, namespace: str, name: str, predicate: Callable[[Status], bool], timeout: float = 60.0
) -> Status:
    seen: Status = {}

    async def check() -> Status | None:
        nonlocal seen
        seen = (await kube.get(API_VERSION, "Rollout", name, namespace)).get("status") or {}
        return seen if predicate(seen) else None

    try:
        return await wait_for(check, timeout, 0.1, "rollout status")  # type: ignore[no-any-return]
    except AssertionError as exc:
        brief = {
            k: seen.get(k)
            for k in ("phase", "currentStep", "canaryWeight", "stableRevision", "canaryRevision", "message", "analysis")
        }
        raise AssertionError(f"rollout status never matched; last: {brief}") from exc


def phase(expected: str, revision_changed_from: str | None = None) -> Callable[[Status], bool]:
    def check(status: Status) -> bool:
        if status.get("phase") != expected:
            return False
        return revision_changed_from is None or status.get("canaryRevision") != revision_changed_from

    return check


async def replicas(kube: KubeClient, namespace: str, name: str) -> int:
    return int((await kube.get("apps/v1", "Deployment", name, namespace))["spec"].get("replicas", 1))


async def events_of(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    items, _ = await kube.list("v1", "Event", namespace)
    return [
        e
        for e in items
        if (e.get("involvedObject") or {}).get("kind") == "Rollout" and e["involvedObject"].get("name") == name
    ]


async def has_event(kube: KubeClient, namespace: str, name: str, reason: str, type_: str = "") -> bool:
    """The Rollout has an Event with `reason` (and `type_`, when given)."""
    found = await events_of(kube, namespace, name)
    return any(e["reason"] == reason and type_ in ("", e["type"]) for e in found)
