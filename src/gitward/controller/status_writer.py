"""Writing the Application's status: once per reconcile, one merge patch of the status subresource.

`StatusWriter` is built once by the reconciler with the few collaborators it needs (the client, the
Applications' watch cache, the Event recorder) and called with the reconcile's `Pass`: `outcome` after
a sync (or a report-only compare), `failure` when a step failed, `persist_inventory` before the first
write of a sync (so a crash mid-sync leaves no object untracked). Also emits the matching Kubernetes
Events and metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitward.applying.results import Action
from gitward.appstatus import compaction, conditions, history
from gitward.controller import fights, healthchecks, metrics, reporting
from gitward.controller.clusters import Target
from gitward.controller.context import Pass
from gitward.controller.informers import Informer
from gitward.controller.kube_events import Recorder
from gitward.controller.notifications.matching import health_notice
from gitward.controller.syncing import SyncOutcome
from gitward.controller.triggers import Decision
from gitward.core import applications as apps
from gitward.core.errors import GitwardError, PermanentError, ReconcileError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.planning import inventory
from gitward.sourcing import Revision

log = get_logger(__name__)


@dataclass(frozen=True)
class Report:
    sync: str
    health: str


class StatusWriter:
    def __init__(self, client: KubeClient, applications: Informer, recorder: Recorder) -> None:
        self.client = client
        self.applications = applications  # the watch cache, updated with each patch's answer
        self.recorder = recorder

    async def patch(self, app: Manifest, status: dict[str, Any]) -> None:
        """Merge-patch the status subresource and keep the watch cache at least as new as the answer."""
        meta = app["metadata"]
        try:
            updated = await self.client.patch(
                apps.API_VERSION,
                "Application",
                meta["name"],
                meta["namespace"],
                {"status": status},
                subresource="status",
            )
        except kube_errors.APINotFoundError:
            return
        ref = ObjectRef(apps.API_GROUP, "Application", meta["namespace"], meta["name"])
        current = self.applications.store.get(ref)
        if current is None or _rv(updated) >= _rv(current):
            self.applications.store[ref] = updated

    async def persist_inventory(self, app: Manifest, entries: list[inventory.Entry], revision: Revision) -> None:
        """Record the inventory before the first write of a sync (a crash mid-sync orphans nothing)."""
        self.recorder.notify(
            app, "info", "Progressing", f"applying revision {apps.short_revision(revision.sha)}", revision=revision.sha
        )
        await self.patch(
            app,
            {
                "inventory": _merge_patch_of((app.get("status") or {}).get("inventory"), inventory.to_status(entries)),
                "operationState": {
                    "phase": "Running",
                    "startedAt": reporting.now(),
                    "revision": revision.sha,
                    "message": "applying",
                },
            },
        )

    async def failure(self, app: Manifest, revision: Revision | None, exc: GitwardError) -> None:
        """Set the failing step's condition; everything deployed and recorded before stays as it was."""
        old = app.get("status") or {}
        kind = exc.condition if isinstance(exc, ReconcileError) else "SyncError"
        stalled = isinstance(exc, PermanentError)
        wanted = [
            conditions.Condition(conditions.READY, False, exc.reason, exc.message),
            conditions.Condition(kind, True, exc.reason, exc.message),
        ]
        if stalled:
            wanted.append(conditions.Condition(conditions.STALLED, True, exc.reason, exc.message))
        now = reporting.now()
        status: dict[str, Any] = {
            "observedGeneration": app["metadata"].get("generation"),
            "conditions": conditions.apply(old.get("conditions"), wanted, now),
            "reconciledAt": now,
        }
        if revision is not None:
            status["lastAttemptedRevision"] = revision.sha
        if not old.get("sync"):
            status["sync"] = {"status": reporting.UNKNOWN, "revision": ""}
            status["health"] = {"status": "Unknown", "message": ""}
        _handled(app, status)
        before = conditions.find(old.get("conditions"), kind) or {}
        if before.get("message") != exc.message or before.get("status") != "True":
            log.warning("reconcile failed", app=_key(app), condition=kind, reason=exc.reason, error=exc.message)
            sha = revision.sha if revision is not None else ""
            await self.recorder.emit(
                app, "Warning", exc.reason, exc.message, revision=sha, metadata={"condition": kind}
            )
        await self.patch(app, status)

    async def outcome(
        self, p: Pass, target: Target, revision: Revision, outcome: SyncOutcome, decision: Decision
    ) -> Report:
        """The status after a sync (or a report-only compare) of `p.desired`: sync, health, resources,
        inventory, operation, history, conditions — only what changed is patched."""
        app, why = p.app, p.why
        old = app.get("status") or {}
        assess = healthchecks.assessor(p.spec)  # spec.healthChecks (CEL) for their kinds, else built in
        rows, app_health = reporting.resource_rows(p.desired, outcome, target.informers.get, assess)
        sync = reporting.sync_status(rows)
        now = reporting.now()
        status: dict[str, Any] = {
            "observedGeneration": app["metadata"].get("generation"),
            "sync": {"status": sync, "revision": revision.sha},
            "health": {"status": app_health.status.value, "message": app_health.message},
            "lastAttemptedRevision": revision.sha,
            "resources": compaction.compact_rows(rows),
            "summary": compaction.summary(rows),
            "inventory": inventory.to_status(outcome.inventory),
            "sourceRevision": _revision_info(revision),
        }
        if p.full or outcome.wrote or why.sync or why.refresh:
            status["reconciledAt"] = now
        operated = (
            bool(why.sync)
            or outcome.wrote
            or bool(outcome.failed)
            or _pruned(outcome)
            or bool(outcome.waiting)
            or bool(outcome.hook_run)  # the hooks of an operation ran, or it just finished with them
        )
        if operated:
            status["operationState"] = _operation(old, revision, outcome, decision, now)
            if status["operationState"]["phase"] != "Running":  # a sync that ended: counted once
                metrics.SYNC_TOTAL.labels(p.namespace, p.name, status["operationState"]["phase"]).inc()
        if sync == reporting.SYNCED and not outcome.failed:
            status["lastSyncedRevision"] = revision.sha
        if operated and not outcome.waiting and not decision.heal_only:
            result = "Failed" if outcome.failed else "Succeeded"
            entry = history.Deployment(
                revision.sha,
                revision.author,
                revision.message,
                revision.committed_at,
                now,
                why.initiated_by,
                result,
                why.initiator,
            )
            status["history"] = history.append(old.get("history"), entry, p.spec.revision_history_limit)
        wanted = _conditions(sync, app_health.status.value, outcome, decision.held, _unretried(p, decision))
        fought = p.memory.fight_guard.fights()
        status["conditions"] = conditions.apply(old.get("conditions"), wanted + _fight_condition(wanted, fought), now)
        _handled(app, status)
        facts = {"sync": sync, "health": app_health.status.value}
        await self._events(app, outcome, decision, sync, revision.sha, facts)
        self._health_changed(app, old, app_health.status.value, app_health.message, revision.sha, facts)
        changed = {key: _merge_patch_of(old.get(key), value) for key, value in status.items() if old.get(key) != value}
        if changed:  # a merge patch of only what changed: big Applications cost the API server less
            await self.patch(app, changed)
        metrics.set_app_info(p.namespace, p.name, sync, app_health.status.value, apps.short_revision(revision.sha))
        return Report(sync, app_health.status.value)

    def _health_changed(
        self, app: Manifest, old: dict[str, Any], health: str, message: str, sha: str, facts: dict[str, str]
    ) -> None:
        """Notify (no Event) when health degrades or recovers (notifications, SPEC §14)."""
        change = health_notice(str((old.get("health") or {}).get("status") or ""), health, message)
        if change is not None:
            self.recorder.notify(app, change[0], change[1], change[2], revision=sha, metadata=facts)

    async def _events(
        self, app: Manifest, outcome: SyncOutcome, decision: Decision, sync: str, sha: str, facts: dict[str, str]
    ) -> None:
        for change in outcome.changes:
            if change.action is not Action.FAILED:
                metrics.OBJECTS_APPLIED.labels(change.action.value).inc()
        if outcome.invalid:
            message = outcome.invalid[0].message
            await self.recorder.emit(app, "Warning", "ValidationFailed", message, revision=sha, metadata=facts)
        elif outcome.failed:
            await self.recorder.emit(
                app, "Warning", "SyncFailed", outcome.failed[0].message, revision=sha, metadata=facts
            )
        elif outcome.wrote or _pruned(outcome):
            reason = "DriftCorrected" if decision.heal_only else "Synced"
            await self.recorder.emit(app, "Normal", reason, _summary(outcome), revision=sha, metadata=facts)
        before = conditions.find((app.get("status") or {}).get("conditions"), "SyncError") or {}
        if outcome.conflicts and before.get("reason") != "Conflict":
            for conflict in outcome.conflicts:
                await self.recorder.emit(app, "Warning", "Conflict", conflict.message)
                owner_ns, _, owner_name = conflict.owner.partition("/")
                owner = self.applications.store.get(ObjectRef(apps.API_GROUP, "Application", owner_ns, owner_name))
                if owner is not None:
                    await self.recorder.emit(
                        owner, "Warning", "Conflict", f"{conflict.ref}: also claimed by Application {_key(app)}"
                    )
        if not decision.write and sync != reporting.SYNCED:
            drift = reporting.drifted(outcome)
            if drift:
                log.info("out of sync", app=_key(app), drift=drift[0])


def _merge_patch_of(before: Any, value: Any) -> Any:
    """`value` for a merge patch over `before`: fields of the old value it lacks are set to null, at
    every depth, so nothing stale is left behind (the inventory's `entries` ↔ `compressed`, the
    action counts and hook run of an earlier operation)."""
    if not isinstance(value, dict) or not isinstance(before, dict):
        return value
    gone = {field: None for field in before if field not in value}
    return {**gone, **{field: _merge_patch_of(before.get(field), v) for field, v in value.items()}}


def _rv(obj: Manifest) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _handled(app: Manifest, status: dict[str, Any]) -> None:
    """Record the refresh/sync annotation values this reconcile handled (SPEC §2)."""
    annotations = (app.get("metadata") or {}).get("annotations") or {}
    for annotation, field in ((apps.REFRESH, "lastHandledRefresh"), (apps.SYNC, "lastHandledSync")):
        if annotations.get(annotation):
            status[field] = annotations[annotation]


def _pruned(outcome: SyncOutcome) -> bool:
    return any(c.action is Action.PRUNED for c in outcome.changes)


def _revision_info(revision: Revision) -> dict[str, str]:
    return {
        "sha": revision.sha,
        "ref": revision.ref,
        "author": revision.author,
        "message": revision.message[:1024],
        "committedAt": revision.committed_at,
    }


def _operation(
    old: dict[str, Any], revision: Revision, outcome: SyncOutcome, decision: Decision, now: str
) -> dict[str, Any]:
    previous = old.get("operationState") or {}
    started = previous.get("startedAt") if previous.get("phase") == "Running" else now
    if outcome.waiting:
        phase, message = "Running", outcome.waiting
    elif outcome.invalid:
        phase, message = "Failed", "validation failed: " + "; ".join(c.message for c in outcome.invalid[:5])
    elif outcome.failed:
        phase, message = "Failed", "; ".join(c.message for c in outcome.failed[:5])
    else:
        phase, message = "Succeeded", _summary(outcome)
    changes = (c.as_status() for c in outcome.changes + outcome.invalid)
    state = {
        "phase": phase,
        "startedAt": started,
        "finishedAt": "" if phase == "Running" else now,
        "message": message[:2048],
        "revision": revision.sha,
        "prune": decision.prune,
        "syncResult": compaction.sync_result(revision.sha, changes, outcome.unchanged),
    }
    if outcome.hook_run:
        state["hookRun"], state["hooks"] = outcome.hook_run, outcome.hooks[:100]
    return state


def _summary(outcome: SyncOutcome) -> str:
    counts: dict[str, int] = {}
    for change in outcome.changes:
        counts[change.action.value] = counts.get(change.action.value, 0) + 1
    parts = [f"{n} {action}" for action, n in sorted(counts.items())]
    return "successfully synced" + (f" ({', '.join(parts)})" if parts else " (no changes)")


def _unretried(p: Pass, decision: Decision) -> list[conditions.Condition]:
    """A failed operation this pass did not retry stays reported until it is retried, synced past or
    superseded; once `retry.limit` is spent the Application is Stalled."""
    if not decision.failed:
        return []
    wanted = [conditions.Condition("SyncError", True, "SyncFailed", decision.failed)]
    if p.memory.retries_spent(p.spec.sync_policy.retry.limit):
        message = f"gave up after {p.memory.retries} failed attempts (retry.limit): {decision.failed}"
        wanted.append(conditions.Condition(conditions.STALLED, True, "RetriesExhausted", message))
    return wanted


def _conditions(
    sync: str, health: str, outcome: SyncOutcome, held: str = "", unretried: list[conditions.Condition] | None = None
) -> list[conditions.Condition]:
    wanted: list[conditions.Condition] = []
    if held and sync != reporting.SYNCED:
        wanted.append(conditions.Condition("SyncWindow", True, "SyncWindowClosed", held))
    if outcome.invalid:
        message = "; ".join(c.message for c in outcome.invalid[:5])
        wanted.append(conditions.Condition("ValidationError", True, "ValidationFailed", message))
        wanted.append(conditions.Condition(conditions.STALLED, True, "ValidationFailed", message))
    failed = [c for c in outcome.changes if c.action is Action.FAILED]
    if failed or outcome.conflicts:
        message = "; ".join([c.message for c in outcome.conflicts[:5]] + [c.message for c in failed[:5]])
        reason = "Conflict" if outcome.conflicts and not failed else "SyncFailed"
        wanted.append(conditions.Condition("SyncError", True, reason, message))
    elif unretried:
        wanted.extend(unretried)
    if outcome.prune_plan.refused:
        wanted.append(conditions.Condition("SyncError", True, "EmptyRender", outcome.prune_plan.refused_reason))
    if outcome.waiting or health == "Progressing":
        wanted.append(conditions.Condition(conditions.RECONCILING, True, "Progressing", outcome.waiting or health))
    ready = sync == reporting.SYNCED and health in ("Healthy", "Suspended") and not wanted
    if ready:
        wanted.insert(0, conditions.Condition(conditions.READY, True, "Succeeded", "synced and healthy"))
    else:
        reason = "OutOfSync" if sync != reporting.SYNCED else health
        message = wanted[0].message if wanted else f"sync: {sync}, health: {health}"
        wanted.insert(0, conditions.Condition(conditions.READY, False, reason, message))
    return wanted


def _fight_condition(wanted: list[conditions.Condition], fought: Sequence[fights.Fight]) -> list[conditions.Condition]:
    """Reconciling=True, reason DriftFight, while objects are changed back by another writer (and
    nothing else is reconciling): the Application is not failing, gitward backs off from them."""
    if not fought or any(c.type == conditions.RECONCILING for c in wanted):
        return []
    more = f" (and {len(fought) - 1} more objects)" if len(fought) > 1 else ""
    return [conditions.Condition(conditions.RECONCILING, True, "DriftFight", fought[0].message + more)]


def _key(app: Manifest) -> str:
    return f"{app['metadata']['namespace']}/{app['metadata']['name']}"
