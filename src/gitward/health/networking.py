"""Health of traffic objects: a LoadBalancer Service and an Ingress wait for an address.

Called by `gitward.health.assess` (health stage of the pipeline). Both are Progressing until
`status.loadBalancer.ingress` lists an address (set by the cloud provider or the ingress
controller), as in Argo CD; any other Service is Healthy as soon as it exists.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["ingress", "service"]


def _has_address(obj: Manifest) -> bool:
    return bool(fields.mappings(obj, "status", "loadBalancer", "ingress"))


def service(obj: Manifest, now: datetime) -> Health:
    if fields.string(obj, "spec", "type") != "LoadBalancer" or _has_address(obj):
        return outcomes.HEALTHY
    return outcomes.progressing("Waiting for the load balancer to get an address")


def ingress(obj: Manifest, now: datetime) -> Health:
    if _has_address(obj):
        return outcomes.HEALTHY
    return outcomes.progressing("Waiting for the ingress controller to assign an address")
