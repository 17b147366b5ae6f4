"""Health (pure): how healthy is a live object, and how healthy is a set of them.

The health stage of the pipeline (sourcing → rendering → planning → applying → **health** →
status): the applier calls `assess` on each live object between sync waves, the status stage folds
an Application's objects with `worst` (SPEC §2), the dashboard shows each object's `Health`.
Nothing here does I/O: objects come in as plain dicts, as the API server returns them.

`assess` dispatches on (group, kind) to one module per family of kinds:

    workloads       Deployment, StatefulSet, DaemonSet, ReplicaSet
    pods            Pod
    batch           Job, CronJob
    storage         PersistentVolumeClaim
    networking      Service (LoadBalancer), Ingress
    apiextensions   CustomResourceDefinition, APIService
    autoscaling     HorizontalPodAutoscaler
    namespaces      Namespace
    rollouts        Rollout (gitward.dev): its status.phase
    conditions      any other object (status.conditions Ready/Available, else Healthy)

An object being deleted is Progressing; an object with a field of the wrong type is Unknown, with a
message naming the field (objects are untrusted input: nothing here raises on them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from gitward.core.manifests import Manifest, split_api_version
from gitward.health import (
    apiextensions,
    autoscaling,
    batch,
    conditions,
    fields,
    namespaces,
    networking,
    outcomes,
    pods,
    rollouts,
    storage,
    workloads,
)
from gitward.health.outcomes import Health, HealthStatus, is_worse, worst

__all__ = ["Health", "HealthStatus", "assess", "is_worse", "worst"]

_Assessor = Callable[[Manifest, datetime], Health]

_BY_KIND: dict[tuple[str, str], _Assessor] = {
    ("apps", "Deployment"): workloads.deployment,
    ("apps", "StatefulSet"): workloads.statefulset,
    ("apps", "DaemonSet"): workloads.daemonset,
    ("apps", "ReplicaSet"): workloads.replicaset,
    ("", "Pod"): pods.pod,
    ("batch", "Job"): batch.job,
    ("batch", "CronJob"): batch.cronjob,
    ("", "PersistentVolumeClaim"): storage.persistentvolumeclaim,
    ("", "Service"): networking.service,
    ("networking.k8s.io", "Ingress"): networking.ingress,
    ("extensions", "Ingress"): networking.ingress,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): apiextensions.customresourcedefinition,
    ("apiregistration.k8s.io", "APIService"): apiextensions.apiservice,
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.horizontalpodautoscaler,
    ("", "Namespace"): namespaces.namespace,
    ("gitward.dev", "Rollout"): rollouts.rollout,
}

MAX_MESSAGE = 400
"""Longest health message, in characters; longer ones are cut and end with "..."."""

# kinds whose own status tells more about a deletion than "Pending deletion" does
_JUDGE_OWN_DELETION = frozenset({("", "Namespace")})


def assess(obj: Manifest, now: datetime | None = None) -> Health:
    """The health of one live object; `now` (default: the current time) judges deadlines."""
    if not isinstance(obj, Mapping):
        return outcomes.unknown(f"Malformed object: not a mapping (got {type(obj).__name__})")
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        health = _assess(obj, moment)
    except fields.MalformedError as err:
        health = outcomes.unknown(f"Malformed object: {err}")
    return _shortened(health)


def _shortened(health: Health) -> Health:
    """Controllers' messages can run to pages (a whole build log): keep the head of them."""
    if len(health.message) <= MAX_MESSAGE:
        return health
    return Health(health.status, health.message[: MAX_MESSAGE - 3].rstrip() + "...")


def _assess(obj: Manifest, now: datetime) -> Health:
    group, _ = split_api_version(fields.string(obj, "apiVersion"))
    key = (group, fields.string(obj, "kind"))
    deleted = fields.timestamp(obj, "metadata", "deletionTimestamp")
    if deleted is not None and key not in _JUDGE_OWN_DELETION:
        return outcomes.progressing("Pending deletion")
    return _BY_KIND.get(key, conditions.generic)(obj, now)
