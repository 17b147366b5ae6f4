"""What the header, history and conditions of an Application page show (pure): the summary
(gitward.server.views), the sync policy in words, the last operation, and the history newest first
with the entry that is deployed now.

Called by gitward.server.dashboard.pages; tolerant of any status, like gitward.server.views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitward.core.manifests import Manifest
from gitward.server import schemas, views

__all__ = ["Operation", "Overview", "overview"]


@dataclass(frozen=True)
class Operation:
    phase: str
    message: str
    started_at: str
    finished_at: str
    revision: str


@dataclass(frozen=True)
class Overview:
    summary: schemas.ApplicationSummary
    policy: str
    prune_default: bool  # what the Sync form's prune box starts with: the automated policy's
    interval: str
    operation: Operation | None
    history: list[schemas.HistoryEntry]  # newest first
    deployed_id: int | None  # the history entry deployed now
    conditions: list[schemas.Condition]
    resources: list[schemas.ResourceRow]


def overview(app: Manifest) -> Overview:
    spec, status = _dict(app.get("spec")), _dict(app.get("status"))
    policy = _dict(spec.get("syncPolicy"))
    automated = policy.get("automated")
    history = views.history(app)
    summary = views.summary(app)
    return Overview(
        summary=summary,
        policy=_policy(automated, summary.suspend),
        prune_default=isinstance(automated, dict) and automated.get("prune") is True,
        interval=_str(policy.get("interval")),
        operation=_operation(status.get("operationState")),
        history=list(reversed(history)),
        deployed_id=_deployed(history, summary.lastSyncedRevision),
        conditions=views.conditions(status),
        resources=views.resources(app),
    )


def _policy(automated: Any, suspended: bool) -> str:
    if not isinstance(automated, dict):
        return "Manual"
    parts = ["Automated"]
    parts += [label for key, label in (("prune", "prune"), ("selfHeal", "self-heal")) if automated.get(key) is True]
    text = " · ".join(parts)
    return f"{text} (suspended)" if suspended else text


def _operation(value: Any) -> Operation | None:
    state = _dict(value)
    if not state.get("phase"):
        return None
    result = _dict(state.get("syncResult"))
    return Operation(
        phase=_str(state.get("phase")),
        message=_str(state.get("message")),
        started_at=_str(state.get("startedAt")),
        finished_at=_str(state.get("finishedAt")),
        revision=_str(state.get("revision")) or _str(result.get("revision")),
    )


def _deployed(history: list[schemas.HistoryEntry], revision: str) -> int | None:
    for entry in reversed(history):
        if entry.result == "Succeeded" and (not revision or entry.revision == revision):
            return entry.id
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
