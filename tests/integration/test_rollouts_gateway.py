"""Canary traffic through Gateway API (SPEC §10): the HTTPRoute's first rule gets the backendRefs
`<service>-primary` (weight 100-w) and `<service>-canary` (weight w), written by `gitward-rollout`.

Gateway API's standard CRDs are installed by the test bed from the pinned module
(`devcluster.gobuild.gateway_api_crds`); only the CRDs, so older releases take them too.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from tests.support import apps
from tests.support import rollouts as r

from gitward.controller.manager import Controller
from gitward.controller.rollouts import objects
from gitward.core import rollouts as ro
from gitward.devcluster import gobuild
from gitward.kube.client import KubeClient

ROUTE_API = "gateway.networking.k8s.io/v1"


@pytest.fixture(scope="session")
async def gateway_api(kube: KubeClient) -> None:
    docs = [d for f in gobuild.gateway_api_crds() for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        await kube.apply(crd, field_manager="gitward-test")
    for crd in crds:
        await apps.wait_for(lambda crd=crd: _established(kube, crd["metadata"]["name"]), message="CRD established")
    kube.forget_discovery()


async def _established(kube: KubeClient, name: str) -> bool:
    crd = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    return any(
        c["type"] == "Established" and c["status"] == "True" for c in crd.get("status", {}).get("conditions", [])
    )


def _route(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "hostnames": ["web.example.com"],
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
        },
    }


async def _weights(kube: KubeClient, namespace: str) -> dict[str, int]:
    return objects.route_weights(await kube.get(ROUTE_API, "HTTPRoute", "web", namespace))


async def test_canary_weights_move_on_the_httproute(
    kube: KubeClient, namespace: str, gateway_api: None, controller: Controller
) -> None:
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(_route(namespace))
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}, {"pause": {}}]
    strategy = {"canary": {"steps": steps, "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}
    await kube.create(r.rollout("web", namespace, strategy))
    await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    at_rest = {"web-primary": 100, "web-canary": 0}
    assert await apps.wait_for(lambda: _weights_are(kube, namespace, at_rest), message="weights at rest")
    await r.set_version(kube, namespace, "v2")
    await r.wait_rollout(kube, namespace, "web", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 20)
    await apps.wait_for(lambda: _weights_are(kube, namespace, {"web-primary": 80, "web-canary": 20}), message="20%")
    await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
    await r.wait_rollout(kube, namespace, "web", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 100)
    await apps.wait_for(lambda: _weights_are(kube, namespace, {"web-primary": 0, "web-canary": 100}), message="100%")
    await r.operate(kube, namespace, "web", ro.PROMOTE, "2")
    done = await r.wait_rollout(
        kube, namespace, "web", lambda s: s.get("phase") == "Healthy" and bool(s.get("history"))
    )
    assert done["history"][-1]["result"] == "Promoted"
    await apps.wait_for(lambda: _weights_are(kube, namespace, at_rest), message="back to the primary")
    route = await kube.get(ROUTE_API, "HTTPRoute", "web", namespace)
    assert route["spec"]["hostnames"] == ["web.example.com"]  # the rest of the route is left alone
    assert ro.FIELD_MANAGER in {m["manager"] for m in route["metadata"]["managedFields"]}
    # deleting the Rollout sends the route's traffic to the Service itself again
    await kube.delete(ro.API_VERSION, "Rollout", "web", namespace)
    await apps.wait_for(lambda: _weights_are(kube, namespace, {"web": 1}), message="route back to the Service")


async def _weights_are(kube: KubeClient, namespace: str, wanted: dict[str, int]) -> bool:
    return await _weights(kube, namespace) == wanted
