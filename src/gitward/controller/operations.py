"""Operations people ask for — refresh, sync, rollback, suspend/resume — written as changes to the
Application (annotations, spec.suspend), so the controller stays the only writer of managed objects
and Kubernetes RBAC governs who may ask (SPEC §2).

Called by the CLI (`gitward app ...`, with the user's kubeconfig) and the REST API (with the
server's identity, after its own authorization).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from gitward.core import applications as apps
from gitward.core.errors import SourceError
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.sourcing.refs import check_revision

FIELD_MANAGER = "gitward-operations"
"""The field manager of the annotations written here (the initiator when a request names none)."""


class OperationError(Exception):
    """The operation cannot be requested (unknown history id, ...); the message says why."""


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _annotate(
    client: KubeClient, namespace: str, name: str, annotations: dict[str, str], kind: str = "Application"
) -> dict[str, Any]:
    patch = {"metadata": {"annotations": annotations}}
    return await client.patch(apps.API_VERSION, kind, name, namespace, patch, field_manager=FIELD_MANAGER)


async def whoami(client: KubeClient) -> str:
    """The user the Kubernetes API server authenticates `client` as (a SelfSubjectReview, GA since
    1.28), or "" when it cannot say: the CLI records it as the initiator of what it asks for."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}}
    try:
        answer = await client.create(review)
    except errors.KubeError:
        return ""
    user = ((answer.get("status") or {}).get("userInfo") or {}).get("username")
    return user[:128] if isinstance(user, str) and user.isprintable() else ""


async def request_refresh(
    client: KubeClient, namespace: str, name: str, initiated_by: str = "manual", kind: str = "Application"
) -> str:
    """Ask for a re-check now (a new `gitward.dev/refresh` value); return that value. `kind` is
    Application or ApplicationSet (both re-check on it)."""
    value = f"{initiated_by}-{_stamp()}"
    await _annotate(client, namespace, name, {apps.REFRESH: value}, kind)
    return value


def check_sync_revision(app: Manifest, revision: str) -> None:
    """Refuse (OperationError) a sync of a revision the Application's Git source could never resolve
    (`main; x`, `a..b`, `v1~1`): asked for, the controller would only refuse it later (InvalidRevision).
    Chart versions of Helm repositories and OCI tags keep the looser grammar their constraints need."""
    source = (app.get("spec") or {}).get("source") or {}
    if not revision or str(source.get("repoURL") or "").startswith("oci://") or source.get("chart"):
        return
    try:
        check_revision(revision)
    except SourceError as exc:
        raise OperationError(exc.message.replace("targetRevision", "revision", 1)) from None


def sync_request(
    revision: str = "", prune: bool | None = None, initiated_by: str = "manual", initiator: str = ""
) -> str:
    """The JSON of a `gitward.dev/sync` annotation; a nonce makes each request a new value.
    `initiator` names who asked (an API token's name, a dashboard user, a kubeconfig user)."""
    body: dict[str, Any] = {"initiatedBy": initiated_by, "requestedAt": _stamp(), "nonce": secrets.token_hex(4)}
    if initiator:
        body["initiator"] = initiator[:128]
    if revision:
        body["revision"] = revision
    if prune is not None:
        body["prune"] = prune
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


async def request_sync(
    client: KubeClient,
    namespace: str,
    name: str,
    revision: str = "",
    prune: bool | None = None,
    initiated_by: str = "manual",
    initiator: str = "",
) -> str:
    """Ask for a sync (optionally of `revision`, optionally pruning); return the annotation value."""
    value = sync_request(revision, prune, initiated_by, initiator)
    await _annotate(client, namespace, name, {apps.SYNC: value})
    return value


async def set_suspend(client: KubeClient, namespace: str, name: str, suspend: bool) -> None:
    await client.patch(apps.API_VERSION, "Application", name, namespace, {"spec": {"suspend": suspend}})


async def rollback(client: KubeClient, namespace: str, name: str, history_id: int, initiator: str = "") -> str:
    """Sync the revision of history entry `history_id` and suspend automated sync until resumed
    (as Argo CD does); return the sync annotation value."""
    app = await client.get(apps.API_VERSION, "Application", name, namespace)
    entries = (app.get("status") or {}).get("history") or []
    entry = next((h for h in entries if isinstance(h, dict) and h.get("id") == history_id), None)
    if entry is None or not entry.get("revision"):
        known = ", ".join(str(h.get("id")) for h in entries if isinstance(h, dict)) or "none"
        raise OperationError(f"Application {namespace}/{name} has no history entry {history_id} (known: {known})")
    await set_suspend(client, namespace, name, True)
    return await request_sync(
        client, namespace, name, str(entry["revision"]), prune=True, initiated_by="rollback", initiator=initiator
    )
