"""From a reconcile's results to the Application's status: resources, sync, health, conditions.

Called by the reconciler at the end of every reconcile; pure functions over the sync outcome and the
watch cache's live objects. The status is written once per reconcile by the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from gitward import health
from gitward.applying.results import Action
from gitward.controller.syncing import SyncOutcome
from gitward.core.manifests import Manifest, ObjectRef, split_api_version

SYNCED, OUT_OF_SYNC, UNKNOWN = "Synced", "OutOfSync", "Unknown"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resource_rows(
    desired: list[Manifest],
    outcome: SyncOutcome,
    live_of: Any,
    assess: Callable[[Manifest], health.Health] = health.assess,
) -> tuple[list[dict[str, Any]], health.Health]:
    """One row per rendered or still-tracked object, and the Application's health (the worst).
    `assess` judges each live object (`controller.healthchecks.assessor`: the spec's CEL checks)."""
    changed = {c.ref: c for c in outcome.changes}
    rows: list[dict[str, Any]] = []
    healths: list[health.Health] = []
    conflicted = {c.ref: c for c in outcome.conflicts}
    for obj in desired:
        ref = ObjectRef.of(obj)
        _, version = split_api_version(str(obj.get("apiVersion", "")))
        live = live_of(ref)
        sync_status, message = _object_sync(ref, outcome, changed, conflicted)
        obj_health = assess(live) if live is not None else health.Health(health.HealthStatus.Missing)
        if ref not in conflicted:
            healths.append(obj_health)
        rows.append(_row(ref, version, sync_status, obj_health, message))
    for ref in outcome.awaiting_prune:
        rows.append(_row(ref, "", OUT_OF_SYNC, None, "requires pruning"))
    for change in outcome.changes:
        if change.action is Action.PRUNED:
            rows.append(_row(change.ref, "", "Pruned", None, ""))
    return rows, health.worst(healths)


def _object_sync(
    ref: ObjectRef, outcome: SyncOutcome, changed: dict[ObjectRef, Any], conflicted: dict[ObjectRef, Any]
) -> tuple[str, str]:
    if ref in conflicted:
        return OUT_OF_SYNC, conflicted[ref].message
    change = changed.get(ref)
    if change is not None:
        return ("Failed", change.message) if change.action is Action.FAILED else (SYNCED, "")
    invalid = next((c for c in outcome.invalid if c.ref == ref), None)
    if invalid is not None:
        return "Failed", invalid.message
    decision = outcome.decisions.get(ref)
    if decision is None or decision.action == "none":
        return SYNCED, ""
    return OUT_OF_SYNC, decision.reason


def _row(ref: ObjectRef, version: str, sync: str, h: health.Health | None, message: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group": ref.group,
        "version": version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "status": sync,
    }
    if h is not None:
        row["health"] = {"status": h.status.value, "message": h.message} if h.message else {"status": h.status.value}
    if message:
        row["message"] = message[:512]
    return row


def sync_status(rows: list[dict[str, Any]]) -> str:
    return SYNCED if all(r["status"] in (SYNCED, "Pruned") for r in rows) else OUT_OF_SYNC


def drifted(outcome: SyncOutcome) -> list[str]:
    return [f"{ref}: {d.reason}" for ref, d in outcome.decisions.items() if d.action == "drift"]
