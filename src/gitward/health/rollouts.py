"""Health of a gitward `Rollout` (SPEC §10): its phase, as the rollout controller wrote it.

Called by `gitward.health.assess` (health stage of the pipeline), so an Application that deploys a
Rollout is Progressing while a new revision is delivered, Suspended while it waits for promote,
Degraded after a rollback until a new revision arrives, and Healthy once it is promoted.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["rollout"]


def rollout(obj: Manifest, now: datetime) -> Health:
    phase = fields.string(obj, "status", "phase")
    message = fields.string(obj, "status", "message")
    if phase == "Healthy":
        return outcomes.healthy(message)
    if phase == "Progressing":
        return outcomes.progressing(message or "Rollout in progress")
    if phase == "Paused":
        return outcomes.suspended(message or "Rollout paused: waiting for promote")
    if phase == "Degraded":
        return outcomes.degraded(message or "Rollout rolled back")
    return outcomes.progressing("Waiting for the rollout controller")
