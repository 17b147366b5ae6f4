"""Health of the workload controllers: Deployment, StatefulSet, DaemonSet and ReplicaSet.

Called by `gitward.health.assess` (health stage of the pipeline, after applying) for `apps` objects.
Follows `kubectl rollout status` and Argo CD's gitops-engine: a rollout the controller has not
observed yet, or whose replicas are not all updated and available, is Progressing; a Deployment past
its progress deadline is Degraded; a paused one is Suspended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["daemonset", "deployment", "replicaset", "statefulset"]

_NO_DEADLINE = 2**31 - 1  # what `kubectl` and the deployment controller read as "never"


def _generation_observed(obj: Manifest) -> bool:
    generation = fields.integer(obj, "metadata", "generation")
    return fields.integer(obj, "status", "observedGeneration") >= generation


def _desired_replicas(obj: Manifest) -> int:
    return fields.integer(obj, "spec", "replicas", default=1)


# --- Deployment ---------------------------------------------------------------------------------


def deployment(obj: Manifest, now: datetime) -> Health:
    if fields.boolean(obj, "spec", "paused"):
        return outcomes.suspended("Deployment is paused")
    if not _generation_observed(obj):
        return outcomes.progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation"
        )
    found = fields.conditions(obj)
    progress = found.get("Progressing")
    if progress is not None and progress.reason == "ProgressDeadlineExceeded":
        return outcomes.degraded(f"Progress deadline exceeded: {progress.message or 'rollout stalled'}")
    failure = found.get("ReplicaFailure")
    if failure is not None and failure.status == "True":
        return outcomes.degraded(f"Cannot create pods: {failure.describe()}")
    waiting = _deployment_waiting(obj)
    if waiting is None:
        return outcomes.HEALTHY
    stalled = _stalled(obj, progress, now)
    if stalled:
        return outcomes.degraded(f"Progress deadline exceeded: {stalled}; {waiting}")
    return outcomes.progressing(f"Waiting for rollout to finish: {waiting}...")


def _deployment_waiting(obj: Manifest) -> str | None:
    """What `kubectl rollout status` would wait for, or None when the rollout is complete."""
    replicas = _desired_replicas(obj)
    updated = fields.integer(obj, "status", "updatedReplicas")
    current = fields.integer(obj, "status", "replicas")
    available = fields.integer(obj, "status", "availableReplicas")
    if updated < replicas:
        return f"{updated} out of {replicas} new replicas have been updated"
    if current > updated:
        return f"{current - updated} old replicas are pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas are available"
    return None


def _stalled(obj: Manifest, progress: fields.Condition | None, now: datetime) -> str:
    """How long the rollout has not progressed, when that exceeds spec.progressDeadlineSeconds.

    Catches a stalled rollout before the deployment controller marks it ProgressDeadlineExceeded
    (the controller may lag, or be down); "" while within the deadline or when it cannot be told.
    """
    deadline = fields.optional_integer(obj, "spec", "progressDeadlineSeconds")
    if deadline is None or deadline <= 0 or deadline >= _NO_DEADLINE or progress is None:
        return ""
    last_progress = progress.last_update_time or progress.last_transition_time
    if last_progress is None:
        return ""
    idle = now - last_progress
    if idle <= timedelta(seconds=deadline):
        return ""
    return f"no progress for {int(idle.total_seconds())}s (deadline {deadline}s)"


# --- StatefulSet --------------------------------------------------------------------------------


def statefulset(obj: Manifest, now: datetime) -> Health:
    observed = fields.integer(obj, "status", "observedGeneration")
    if observed == 0 or not _generation_observed(obj):
        return outcomes.progressing("Waiting for statefulset spec update to be observed...")
    replicas = _desired_replicas(obj)
    ready = fields.integer(obj, "status", "readyReplicas")
    if ready < replicas:
        return outcomes.progressing(f"Waiting for {replicas - ready} pods to be ready...")
    strategy = fields.string(obj, "spec", "updateStrategy", "type", default="RollingUpdate")
    if strategy == "OnDelete":
        return _on_delete(replicas, fields.integer(obj, "status", "updatedReplicas"), "pods")
    if strategy == "RollingUpdate" and fields.mapping(obj, "spec", "updateStrategy", "rollingUpdate"):
        return _partitioned_rollout(obj, replicas)
    update_revision = fields.string(obj, "status", "updateRevision")
    if update_revision != fields.string(obj, "status", "currentRevision"):
        updated = fields.integer(obj, "status", "updatedReplicas")
        return outcomes.progressing(
            f"Waiting for statefulset rolling update to complete: {updated} pods at revision {update_revision}..."
        )
    return outcomes.HEALTHY


def _partitioned_rollout(obj: Manifest, replicas: int) -> Health:
    partition = fields.optional_integer(obj, "spec", "updateStrategy", "rollingUpdate", "partition")
    if partition is None:
        return outcomes.HEALTHY
    updated = fields.integer(obj, "status", "updatedReplicas")
    expected = replicas - partition
    if updated >= expected:
        return outcomes.HEALTHY
    what = "partitioned roll out" if partition > 0 else "rollout"
    return outcomes.progressing(
        f"Waiting for {what} to finish: {updated} out of {expected} new pods have been updated..."
    )


def _on_delete(desired: int, updated: int, noun: str) -> Health:
    """OnDelete rollouts only happen when someone deletes the pods: healthy, with a hint if stale."""
    if updated >= desired:
        return outcomes.HEALTHY
    return outcomes.healthy(
        f"{desired - updated} of {desired} {noun} run an old revision (OnDelete: delete them to update)"
    )


# --- DaemonSet ----------------------------------------------------------------------------------


def daemonset(obj: Manifest, now: datetime) -> Health:
    if not _generation_observed(obj):
        return outcomes.progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation"
        )
    desired = fields.integer(obj, "status", "desiredNumberScheduled")
    updated = fields.integer(obj, "status", "updatedNumberScheduled")
    available = fields.integer(obj, "status", "numberAvailable")
    on_delete = fields.string(obj, "spec", "updateStrategy", "type") == "OnDelete"
    if updated < desired and not on_delete:
        return outcomes.progressing(
            f"Waiting for daemon set rollout to finish: {updated} out of {desired} new pods have been updated..."
        )
    if available < desired:
        return outcomes.progressing(
            f"Waiting for daemon set rollout to finish: {available} of {desired} pods are available..."
        )
    return _on_delete(desired, updated, "pods") if on_delete else outcomes.HEALTHY


# --- ReplicaSet ---------------------------------------------------------------------------------


def replicaset(obj: Manifest, now: datetime) -> Health:
    if not _generation_observed(obj):
        return outcomes.progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation"
        )
    failure = fields.condition(obj, "ReplicaFailure")
    if failure is not None and failure.status == "True":
        return outcomes.degraded(f"Cannot create pods: {failure.describe()}")
    replicas = _desired_replicas(obj)
    available = fields.integer(obj, "status", "availableReplicas")
    if available < replicas:
        return outcomes.progressing(
            f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available..."
        )
    return outcomes.HEALTHY
