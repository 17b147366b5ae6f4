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

__all__ = ["Overview", "overview"]


@dataclass(frozen=True)
class Overview:
    summary: schemas.ApplicationSummary
    policy: str
    prune_default: bool  # what the Sync form's prune box starts with: the automated policy's
    interval: str
    operation: views.Operation | None
    history: list[schemas.HistoryEntry]  # newest first
    deployed_id: int | None  # the history entry deployed now
    conditions: list[schemas.Condition]
    resources: list[schemas.ResourceRow]


def overview(app: Manifest) -> Overview:
    policy = views.policy(app.get("spec"))
    history = views.history(app)
    summary = views.summary(app)
    return Overview(
        summary=summary,
        policy=_in_words(policy),
        prune_default="prune" in policy.flags,
        interval=policy.interval,
        operation=views.operation(app.get("status")),
        history=list(reversed(history)),
        deployed_id=_deployed(history, summary.lastSyncedRevision),
        conditions=views.conditions(_dict(app.get("status"))),
        resources=views.resources(app),
    )


_POLICY_WORDS = {"prune": "prune", "selfHeal": "self-heal"}


def _in_words(policy: views.Policy) -> str:
    """`Manual`, or e.g. `Automated · prune · self-heal (suspended)`."""
    if not policy.automated:
        return "Manual"
    text = " · ".join(["Automated", *(_POLICY_WORDS[f] for f in policy.flags if f in _POLICY_WORDS)])
    return f"{text} (suspended)" if policy.suspended else text


def _deployed(history: list[schemas.HistoryEntry], revision: str) -> int | None:
    for entry in reversed(history):
        if entry.result == "Succeeded" and (not revision or entry.revision == revision):
            return entry.id
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
