"""Health of any other object, from the standard `status.conditions` (kstatus conventions).

Called by `gitward.health.assess` for every kind without a family module of its own: custom
resources (Flux, cert-manager, gitward's own Application...) and the rest. An object that carries
no such conditions is Healthy once it exists (SPEC §2).

In order: a controller that has not observed the latest generation → Progressing; Stalled=True →
Degraded; Reconciling=True → Progressing; then the Ready condition, or else Available:
True → Healthy, False → Degraded, Unknown → Progressing.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["generic"]


def generic(obj: Manifest, now: datetime) -> Health:
    generation = fields.integer(obj, "metadata", "generation")
    observed = fields.optional_integer(obj, "status", "observedGeneration")
    if observed is not None and observed < generation:
        return outcomes.progressing(f"Waiting for the controller to observe generation {generation}")
    found = fields.conditions(obj)
    stalled = found.get("Stalled")
    if stalled is not None and stalled.status == "True":
        return outcomes.degraded(f"Stalled: {stalled.describe() or 'no reason given'}")
    reconciling = found.get("Reconciling")
    if reconciling is not None and reconciling.status == "True":
        return outcomes.progressing(f"Reconciling: {reconciling.describe() or 'in progress'}")
    summary = found.get("Ready") or found.get("Available")
    if summary is None:
        return outcomes.HEALTHY
    return _judge(summary, generation)


def _judge(summary: fields.Condition, generation: int) -> Health:
    """Health from a Ready or Available condition."""
    state = "ready" if summary.type == "Ready" else "available"
    detail = summary.describe()
    if summary.observed_generation is not None and summary.observed_generation < generation:
        return outcomes.progressing(f"Waiting for the controller to observe generation {generation}")
    if summary.status == "True":
        return outcomes.HEALTHY
    if summary.status == "False":
        return outcomes.degraded(f"Not {state}: {detail}" if detail else f"Not {state}")
    if summary.status == "Unknown":
        return outcomes.progressing(f"Not {state} yet: {detail}" if detail else f"Not {state} yet")
    return outcomes.unknown(f"{summary.type} condition has an unexpected status: {summary.status!r}")
