"""Health of a PersistentVolumeClaim, from its phase.

Called by `gitward.health.assess` (health stage of the pipeline). Bound is Healthy, Pending is
Progressing (waiting for a volume, or for a first consumer with WaitForFirstConsumer), Lost is
Degraded: the volume behind the claim is gone.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["persistentvolumeclaim"]


def persistentvolumeclaim(obj: Manifest, now: datetime) -> Health:
    phase = fields.string(obj, "status", "phase")
    if phase == "Bound":
        return outcomes.HEALTHY
    if phase in ("Pending", ""):
        return outcomes.progressing("Waiting for the claim to be bound to a volume")
    if phase == "Lost":
        return outcomes.degraded("Volume lost: the claim's PersistentVolume no longer exists")
    return outcomes.unknown(f"Unexpected claim phase: {phase}")
