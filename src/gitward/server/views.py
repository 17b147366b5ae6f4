"""From Application custom resources to the API's JSON shapes (gitward.server.schemas), and to the
sync policy and last operation that the dashboard and `gitward app get` show in words.

Pure. Called by the REST routers and the event stream with objects from the server's Application
informer, by the dashboard (gitward.server.dashboard.overviews) and by the CLI
(gitward.cli.app_views) with objects as the API server returns them. Tolerant of any status the
controller (or a person) wrote: a wrong-typed field becomes its default instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic

from gitward.appstatus import compaction
from gitward.core.manifests import Manifest
from gitward.server import schemas


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def key(app: Manifest) -> tuple[str, str]:
    meta = _dict(app.get("metadata"))
    return _str(meta.get("namespace")), _str(meta.get("name"))


def _rows(model: type[pydantic.BaseModel], items: Any) -> list[Any]:
    """The items of a status list that validate as `model`; others are skipped."""
    rows = []
    for item in _list(items):
        try:
            rows.append(model.model_validate(item))
        except pydantic.ValidationError:
            continue
    return rows


def conditions(status: dict[str, Any]) -> list[schemas.Condition]:
    return _rows(schemas.Condition, status.get("conditions"))


def resources(app: Manifest) -> list[schemas.ResourceRow]:
    """Every object's row, also for a compacted status (rows left out are Synced and Healthy)."""
    return _rows(schemas.ResourceRow, compaction.expand_rows(_dict(app.get("status"))))


def history(app: Manifest) -> list[schemas.HistoryEntry]:
    return _rows(schemas.HistoryEntry, _dict(app.get("status")).get("history"))


def _last_synced_at(status: dict[str, Any]) -> str | None:
    for entry in reversed(_list(status.get("history"))):
        if isinstance(entry, dict) and entry.get("result") == "Succeeded" and isinstance(entry.get("deployedAt"), str):
            return str(entry["deployedAt"])
    operation = _dict(status.get("operationState"))
    if operation.get("phase") == "Succeeded" and operation.get("finishedAt"):
        return _str(operation.get("finishedAt")) or None
    return None


def summary(app: Manifest) -> schemas.ApplicationSummary:
    namespace, name = key(app)
    spec, status = _dict(app.get("spec")), _dict(app.get("status"))
    source, destination = _dict(spec.get("source")), _dict(spec.get("destination"))
    policy = _dict(spec.get("syncPolicy"))
    sync, health = _dict(status.get("sync")), _dict(status.get("health"))
    return schemas.ApplicationSummary(
        namespace=namespace,
        name=name,
        project=_str(spec.get("project")) or "default",
        repoURL=_str(source.get("repoURL")),
        path=_str(source.get("path")) or ".",
        targetRevision=_str(source.get("targetRevision")) or "HEAD",
        destinationNamespace=_str(destination.get("namespace")),
        destinationCluster=_str(destination.get("cluster")) or "in-cluster",
        automated=isinstance(policy.get("automated"), dict),
        suspend=spec.get("suspend") is True,
        syncStatus=_str(sync.get("status"), "Unknown"),
        healthStatus=_str(health.get("status"), "Unknown"),
        healthMessage=_str(health.get("message")),
        revision=_str(sync.get("revision")),
        lastSyncedRevision=_str(status.get("lastSyncedRevision")),
        lastSyncedAt=_last_synced_at(status),
        reconciledAt=_str(status.get("reconciledAt")) or None,
        operationPhase=_str(_dict(status.get("operationState")).get("phase")) or None,
        conditions=conditions(status),
    )


POLICY_FLAGS = ("prune", "selfHeal", "allowEmpty")


@dataclass(frozen=True)
class Policy:
    """An Application's sync policy."""

    automated: bool
    flags: tuple[str, ...]  # those of POLICY_FLAGS the automated policy turns on, in that order
    interval: str  # "" when the spec sets none
    suspended: bool


def policy(spec: Any) -> Policy:
    """The sync policy of an Application's `spec`."""
    spec = _dict(spec)
    sync_policy = _dict(spec.get("syncPolicy"))
    automated = sync_policy.get("automated")
    on = _dict(automated)
    return Policy(
        automated=isinstance(automated, dict),
        flags=tuple(flag for flag in POLICY_FLAGS if on.get(flag) is True),
        interval=_str(sync_policy.get("interval")),
        suspended=spec.get("suspend") is True,
    )


@dataclass(frozen=True)
class Operation:
    """The last (or running) sync operation of an Application."""

    phase: str
    message: str
    started_at: str
    finished_at: str
    revision: str


def operation(status: Any) -> Operation | None:
    """`status.operationState`, or None when there is none (no phase)."""
    state = _dict(_dict(status).get("operationState"))
    if not _str(state.get("phase")):
        return None
    result = _dict(state.get("syncResult"))
    return Operation(
        phase=_str(state.get("phase")),
        message=_str(state.get("message")),
        started_at=_str(state.get("startedAt")),
        finished_at=_str(state.get("finishedAt")),
        revision=_str(state.get("revision")) or _str(result.get("revision")),
    )


def detail(app: Manifest) -> schemas.ApplicationDetail:
    meta = {k: v for k, v in _dict(app.get("metadata")).items() if k != "managedFields"}
    status = _dict(app.get("status"))
    clean_status = {
        **status,
        "conditions": conditions(status),
        "resources": resources(app),
        "history": history(app),
    }
    if not isinstance(status.get("operationState"), dict | None):
        clean_status["operationState"] = None
    try:
        parsed_status = schemas.ApplicationStatus.model_validate(clean_status)
    except pydantic.ValidationError:
        parsed_status = schemas.ApplicationStatus.model_validate(
            {k: clean_status[k] for k in ("conditions", "resources", "history")}
        )
    try:
        metadata = schemas.ObjectMeta.model_validate(meta)
    except pydantic.ValidationError:
        metadata = schemas.ObjectMeta(name=_str(meta.get("name")), namespace=_str(meta.get("namespace")))
    return schemas.ApplicationDetail(
        apiVersion=_str(app.get("apiVersion")),
        kind=_str(app.get("kind")),
        metadata=metadata,
        spec=_dict(app.get("spec")),
        status=parsed_status,
    )
