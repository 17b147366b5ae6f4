"""Health of a Pod, from its phase, its conditions and the state of its containers.

Called by `gitward.health.assess` (health stage of the pipeline) for core `Pod` objects; the
dashboard shows it on each pod of the resource tree. Follows Argo CD's gitops-engine: a container
stuck in CrashLoopBackOff, an image pull error or a configuration error makes a restartPolicy
Always pod Degraded at once. Pods with restartPolicy OnFailure/Never run to completion (hooks, Job
pods), so until they end they are Progressing whatever their containers wait for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["pod"]

_FAILING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)


def _is_failing(reason: str) -> bool:
    """Waiting reasons that will not resolve on their own (the kubelet's Err*, *Error, *BackOff)."""
    return reason in _FAILING_REASONS or reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def pod(obj: Manifest, now: datetime) -> Health:
    restart_policy = fields.string(obj, "spec", "restartPolicy", default="Always")
    if restart_policy == "Always":
        failing = list(_failing_containers(obj))
        if failing:
            return outcomes.degraded("; ".join(failing))
    phase = fields.string(obj, "status", "phase")
    if phase == "Pending":
        return outcomes.progressing(_pending_message(obj))
    if phase == "Succeeded":
        return outcomes.HEALTHY
    if phase == "Failed":
        return outcomes.degraded(_failed_message(obj))
    if phase == "Running":
        return _running(obj, restart_policy)
    if not phase:
        return outcomes.progressing("Waiting for the pod to be scheduled")
    return outcomes.unknown(_joined(f"Pod phase is {phase}", fields.string(obj, "status", "message")))


def _containers(obj: Manifest) -> Iterator[Mapping[str, Any]]:
    yield from fields.mappings(obj, "status", "initContainerStatuses")
    yield from fields.mappings(obj, "status", "containerStatuses")


def _failing_containers(obj: Manifest) -> Iterator[str]:
    for container in _containers(obj):
        reason = fields.string(container, "state", "waiting", "reason")
        if _is_failing(reason):
            detail = fields.string(container, "state", "waiting", "message")
            yield _joined(f'{reason} in container "{fields.string(container, "name")}"', detail)


def _pending_message(obj: Manifest) -> str:
    scheduled = fields.condition(obj, "PodScheduled")
    if scheduled is not None and scheduled.status == "False":
        return scheduled.describe() or "Not scheduled yet"
    waiting = [
        f"{fields.string(c, 'name')} ({reason})"
        for c in _containers(obj)
        if (reason := fields.string(c, "state", "waiting", "reason"))
    ]
    if waiting:
        return f"Waiting for the containers to start: {', '.join(waiting)}"
    return fields.string(obj, "status", "message") or "Waiting for the containers to start"


def _failed_message(obj: Manifest) -> str:
    status_reason = fields.string(obj, "status", "reason")
    status_message = fields.string(obj, "status", "message")
    if status_reason or status_message:
        return _joined(status_reason or "Pod failed", status_message)
    for container in _containers(obj):
        message = _termination(container, "state")
        if message:
            return message
    return "Pod failed"


def _termination(container: Mapping[str, Any], state: str) -> str:
    """Why a container terminated unsuccessfully (from `state` or `lastState`), or ""."""
    terminated = fields.mapping(container, state, "terminated")
    reason = fields.string(terminated, "reason")
    exit_code = fields.integer(terminated, "exitCode")
    name = fields.string(container, "name")
    if not terminated or (exit_code == 0 and reason in ("", "Completed")):
        return ""
    what = f"{reason}, exit code {exit_code}" if reason else f"exit code {exit_code}"
    return _joined(f'Container "{name}" terminated ({what})', fields.string(terminated, "message"))


def _running(obj: Manifest, restart_policy: str) -> Health:
    if restart_policy != "Always":
        return outcomes.progressing("Waiting for the pod to complete")
    if _is_ready(obj):
        return outcomes.HEALTHY
    not_ready = [c for c in fields.mappings(obj, "status", "containerStatuses") if not _ready(c)]
    for container in not_ready:
        crashed = _termination(container, "lastState")
        if crashed:
            return outcomes.degraded(f"Not ready after a restart: {crashed}")
    names = ", ".join(fields.string(c, "name") for c in not_ready)
    return outcomes.progressing(f"Waiting for containers to be ready: {names}" if names else "Not ready yet")


def _is_ready(obj: Manifest) -> bool:
    """The Ready condition when the kubelet set one, else every container ready."""
    ready = fields.condition(obj, "Ready")
    if ready is not None:
        return ready.status == "True"
    containers = fields.mappings(obj, "status", "containerStatuses")
    return bool(containers) and all(_ready(c) for c in containers)


def _ready(container: Mapping[str, Any]) -> bool:
    return fields.boolean(container, "ready")


def _joined(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head
