"""Kubernetes-style conditions on the Application's status (Ready, Reconciling, Stalled,
SourceError, RenderError, ValidationError, SyncError).

Called by the controller when it builds the status at the end of a reconcile. Pure: takes the old
list, returns a new one; `lastTransitionTime` moves only when a condition's status changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
ERROR_TYPES = ("SourceError", "RenderError", "ValidationError", "SyncError")


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def apply(old: list[dict[str, Any]] | Any, wanted: list[Condition], now: str) -> list[dict[str, Any]]:
    """The condition list with `wanted` set; types not in `wanted` are dropped."""
    previous = {c.get("type"): c for c in old if isinstance(c, dict)} if isinstance(old, list) else {}
    result = []
    for cond in wanted:
        status = "True" if cond.status else "False"
        before = previous.get(cond.type) or {}
        moved = before.get("status") != status
        result.append(
            {
                "type": cond.type,
                "status": status,
                "reason": cond.reason,
                "message": cond.message[:2048],
                "lastTransitionTime": now
                if moved or not before.get("lastTransitionTime")
                else before["lastTransitionTime"],
            }
        )
    return result


def find(conditions: Any, type_: str) -> dict[str, Any] | None:
    if not isinstance(conditions, list):
        return None
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == type_), None)
