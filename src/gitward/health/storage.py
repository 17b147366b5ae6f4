"""Health of a PersistentVolumeClaim, from its phase.

Called by `gitward.health.assess` (health stage of the pipeline). Bound is Healthy, Pending is
Progressing (waiting for a volume, or for a first consumer with WaitForFirstConsumer), Lost is
Degraded: the volume behind the claim is gone.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, statuses
from gitward.health.statuses import Health

__all__ = ["persistentvolumeclaim"]


def persistentvolumeclaim(obj: Manifest, now: datetime) -> Health:
    phase = fields.string(obj, "status", "phase")
    if phase == "Bound":
        return statuses.HEALTHY
    if phase in ("Pending", ""):
        return statuses.progressing("Waiting for the claim to be bound to a volume")
    if phase == "Lost":
        return statuses.degraded("Volume lost: the claim's PersistentVolume no longer exists")
    return statuses.unknown(f"Unexpected claim phase: {phase}")
