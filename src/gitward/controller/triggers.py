"""Why a reconcile runs and what it may do: manual refresh/sync requests, new revisions, drift.

Called by the reconciler. Pure: reads the Application's annotations and status (SPEC §2: the
`gitward.dev/refresh` and `gitward.dev/sync` annotations, `status.lastHandledRefresh` /
`status.lastHandledSync`) and decides the sync policy (write? prune? allow empty?).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitward.core import identifiers
from gitward.core.applications import REFRESH, SYNC, ApplicationSpec


@dataclass(frozen=True)
class SyncRequest:
    raw: str
    revision: str = ""
    prune: bool | None = None
    initiated_by: str = "manual"
    error: str = ""
    initiator: str = ""  # who asked, as the request says (API token, dashboard user, kubeconfig user)


@dataclass(frozen=True)
class Triggers:
    refresh: str  # new refresh annotation value, or ""
    sync: SyncRequest | None  # a new sync request
    spec_changed: bool  # generation differs from status.observedGeneration
    refreshed_by: str = ""  # an in-process refresh (webhook, API) and who asked
    annotation_writer: str = ""  # the field manager that last wrote the sync annotation

    @property
    def initiator(self) -> str:
        """Who asked for this reconcile's sync, when known: the request's `initiator`, else the field
        manager that wrote the sync annotation (`Triggers.annotation_writer`)."""
        if self.sync is None:
            return ""
        return self.sync.initiator or self.annotation_writer

    @property
    def initiated_by(self) -> str:
        if self.sync is not None:
            return self.sync.initiated_by
        if self.refresh.startswith("webhook") or self.refreshed_by == "webhook":
            return "webhook"
        return "automated"


def of(app: dict[str, Any], refreshed_by: str = "") -> Triggers:
    meta, status = app.get("metadata") or {}, app.get("status") or {}
    annotations = meta.get("annotations") or {}
    refresh = str(annotations.get(REFRESH) or "")
    refresh = refresh if refresh and refresh != status.get("lastHandledRefresh") else ""
    raw_sync = str(annotations.get(SYNC) or "")
    sync = parse_sync(raw_sync) if raw_sync and raw_sync != status.get("lastHandledSync") else None
    spec_changed = meta.get("generation") != status.get("observedGeneration")
    writer = _annotation_writer(meta.get("managedFields"), SYNC) if sync is not None else ""
    return Triggers(refresh, sync, spec_changed, refreshed_by, writer)


def _annotation_writer(entries: Any, annotation: str) -> str:
    """The field manager owning `annotation` (the newest entry that does), checked like any name."""
    found = ""
    for entry in entries if isinstance(entries, list) else ():
        fields = entry.get("fieldsV1") if isinstance(entry, dict) else None
        meta = fields.get("f:metadata") if isinstance(fields, dict) else None
        owned = meta.get("f:annotations") if isinstance(meta, dict) else None
        if isinstance(owned, dict) and f"f:{annotation}" in owned:
            found = str(entry.get("manager") or "")
    return found if found and identifiers.GRAMMARS["field-manager"].problem(found) is None else ""


def parse_sync(raw: str) -> SyncRequest:
    """The sync annotation's JSON (`{"revision": ..., "prune": ...}`); `{}` or `true` mean a plain sync."""
    try:
        value = json.loads(raw)
    except ValueError:
        return SyncRequest(raw, error=f"gitward.dev/sync: not JSON: {raw[:100]!r}")
    if value is True or value == {}:
        return SyncRequest(raw)
    if not isinstance(value, dict):
        return SyncRequest(raw, error="gitward.dev/sync: expected a JSON object")
    revision = value.get("revision") or ""
    prune = value.get("prune")
    by = value.get("initiatedBy") or ("rollback" if value.get("rollback") else "manual")
    if not isinstance(revision, str) or (prune is not None and not isinstance(prune, bool)):
        return SyncRequest(raw, error="gitward.dev/sync: revision must be a string and prune a boolean")
    problem = identifiers.GRAMMARS["revision"].problem(revision) if revision else None
    if problem is not None:  # it reaches git: held to the same grammar as spec.source.targetRevision
        return SyncRequest(raw, error=f"gitward.dev/sync: revision {problem}")
    if by not in ("manual", "rollback", "webhook", "automated"):
        by = "manual"
    who = value.get("initiator")
    who = who if isinstance(who, str) and identifiers.GRAMMARS["field-manager"].problem(who) is None else ""
    return SyncRequest(raw, revision, prune, by, initiator=who)


@dataclass(frozen=True)
class Decision:
    write: bool
    prune: bool
    allow_empty: bool
    heal_only: bool  # writing only to revert drift (selfHeal), not for a new revision
    held: str = ""  # why a write this reconcile would have made is held (a sync window)
    retry: bool = False  # writing again the revision whose last operation failed (syncPolicy.retry)
    failed: str = ""  # the message of the failed operation this pass does not retry (yet or at all)


def decide(
    spec: ApplicationSpec, status: dict[str, Any], sha: str, triggers: Triggers, retry_allowed: bool
) -> Decision:
    automated = spec.sync_policy.automated
    allow_empty = bool(automated and automated.allow_empty)
    if triggers.sync is not None:
        prune = triggers.sync.prune if triggers.sync.prune is not None else bool(automated and automated.prune)
        return Decision(True, prune, allow_empty, False)
    operation = status.get("operationState") or {}
    if operation.get("phase") == "Running":  # a wave-by-wave sync continues
        return Decision(True, bool(automated and automated.prune) or bool(operation.get("prune")), allow_empty, False)
    if automated is None or spec.suspend:
        return Decision(False, False, allow_empty, False)
    new_target = sha != status.get("lastSyncedRevision") or triggers.spec_changed
    failed = operation.get("phase") in ("Failed", "Error") and operation.get("revision", sha) == sha
    if failed and not triggers.spec_changed and not retry_allowed:  # a backoff, or the retries are spent
        return Decision(False, automated.prune, allow_empty, False, failed=str(operation.get("message") or "failed"))
    if new_target or failed:
        return Decision(True, automated.prune, allow_empty, False, retry=failed and not triggers.spec_changed)
    return Decision(automated.self_heal, automated.prune, allow_empty, True)
