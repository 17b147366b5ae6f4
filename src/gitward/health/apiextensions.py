"""Health of API extensions: CustomResourceDefinitions and aggregated APIServices.

Called by `gitward.health.assess`, notably by the applier between stages: CRDs are applied first
and the objects of their kinds only once the CRD is Established (SPEC §2). A CRD whose names
clash with another, or whose schema is not structural, is Degraded; an APIService is Healthy when
Available, Progressing while its backend Service has no ready endpoints, Degraded otherwise.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["apiservice", "customresourcedefinition"]

# Available=False reasons from kube-aggregator that mean "the backend is not up yet"
_APISERVICE_WAITING_REASONS = frozenset({"ServiceNotFound", "EndpointsNotFound", "MissingEndpoints"})


def customresourcedefinition(obj: Manifest, now: datetime) -> Health:
    found = fields.conditions(obj)
    names = found.get("NamesAccepted")
    if names is not None and names.status == "False":
        return outcomes.degraded(f"Names not accepted: {names.describe()}")
    structural = found.get("NonStructuralSchema")
    if structural is not None and structural.status == "True":
        return outcomes.degraded(f"Schema is not structural: {structural.describe()}")
    terminating = found.get("Terminating")
    if terminating is not None and terminating.status == "True":
        return outcomes.progressing(f"CRD is terminating: {terminating.describe()}")
    established = found.get("Established")
    if established is not None and established.status == "True":
        return outcomes.HEALTHY
    detail = established.describe() if established is not None else ""
    return outcomes.progressing(f"Waiting for the CRD to be established: {detail or 'no condition yet'}")


def apiservice(obj: Manifest, now: datetime) -> Health:
    available = fields.condition(obj, "Available")
    if available is None:
        return outcomes.progressing("Waiting for the API service to be checked")
    if available.status == "True":
        return outcomes.HEALTHY
    detail = available.describe() or "no reason given"
    if available.status == "False" and available.reason not in _APISERVICE_WAITING_REASONS:
        return outcomes.degraded(f"API service not available: {detail}")
    return outcomes.progressing(f"Waiting for the API service backend: {detail}")
