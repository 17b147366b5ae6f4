"""Giving the target back when a Rollout is deleted (its finalizer `gitward.dev/rollout-cleanup`).

Called by `controller.rollouts.reconciling` for a Rollout being deleted. Without this, deleting a
Rollout (or pruning it from Git) would leave the target at 0 replicas and `<service>` selecting the
primary's pods, which garbage collection then removes with the Rollout: an outage. So, before the
finalizer goes: the target is scaled to the primary's size (it runs the template Git has), the
Service `<service>` selects Git's selector again (the track label released), and the HTTPRoute's
first rule sends everything to `<service>`. The primary and the `-primary`/`-canary` Services are then
removed by garbage collection (owner references).
"""

from __future__ import annotations

from typing import Any

from gitward.controller.rollouts import objects
from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

__all__ = ["FINALIZER", "release"]

FINALIZER = "gitward.dev/rollout-cleanup"
ROUTE_API = "gateway.networking.k8s.io/v1"


async def release(client: KubeClient, spec: ro.RolloutSpec, namespace: str) -> None:
    target = await client.get_or_none("apps/v1", "Deployment", spec.target_ref.name, namespace)
    primary = await client.get_or_none("apps/v1", "Deployment", spec.primary_name, namespace)
    if target is None:
        return
    replicas = int(((primary or target).get("spec") or {}).get("replicas", 1))
    meta = {"name": spec.target_ref.name, "namespace": namespace}
    await _apply(
        client, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": replicas}}
    )
    try:
        selector = objects.selector_of(target)
    except objects.RolloutObjectError:
        return
    if await client.get_or_none("v1", "Service", spec.service.name, namespace) is not None:
        service = {"name": spec.service.name, "namespace": namespace}
        await _apply(
            client, {"apiVersion": "v1", "kind": "Service", "metadata": service, "spec": {"selector": selector}}
        )
    routing = spec.strategy.canary.traffic_routing if spec.strategy.canary is not None else None
    if routing is not None and routing.gateway_api is not None:
        await _release_route(client, spec, namespace, routing.gateway_api.http_route)


async def _release_route(client: KubeClient, spec: ro.RolloutSpec, namespace: str, name: str) -> None:
    try:
        route = await client.get_or_none(ROUTE_API, "HTTPRoute", name, namespace)
    except errors.APINotFoundError:  # Gateway API not installed
        return
    if route is None:
        return
    rules: list[dict[str, Any]] = list(((route.get("spec") or {}).get("rules")) or [{}])
    first = dict(rules[0]) if isinstance(rules[0], dict) else {}
    first["backendRefs"] = [{"group": "", "kind": "Service", "name": spec.service.name, "port": spec.service.port}]
    rules[0] = first
    body: Manifest = {
        "apiVersion": ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"rules": rules},
    }
    await _apply(client, body)


async def _apply(client: KubeClient, obj: Manifest) -> None:
    await client.apply(obj, field_manager=ro.FIELD_MANAGER, force=True)
