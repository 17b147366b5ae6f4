"""Health of a Namespace, from its phase.

Called by `gitward.health.assess`, notably by the applier, which creates Namespaces in the first
stage (SPEC §2). Active is Healthy; Terminating is Progressing (its contents are being deleted,
the conditions say what blocks it).
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["namespace"]

# conditions the namespace controller sets True when deleting the contents is stuck
_BLOCKING = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceFinalizersRemaining",
    "NamespaceContentRemaining",
)


def namespace(obj: Manifest, now: datetime) -> Health:
    phase = fields.string(obj, "status", "phase")
    if phase in ("Active", ""):
        return outcomes.HEALTHY
    if phase == "Terminating":
        return outcomes.progressing(_terminating_message(obj))
    return outcomes.unknown(f"Unexpected namespace phase: {phase}")


def _terminating_message(obj: Manifest) -> str:
    found = fields.conditions(obj)
    for kind in _BLOCKING:
        condition = found.get(kind)
        if condition is not None and condition.status == "True" and condition.message:
            return f"Namespace is terminating: {condition.message}"
    return "Namespace is terminating"
