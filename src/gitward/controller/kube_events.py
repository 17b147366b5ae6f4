"""Kubernetes Events about Applications (syncs, prunes, failures, drift corrections).

Called by the reconciler; best effort (an Event that cannot be written is logged, never fatal).
Messages are already free of Secret values and credentials when they arrive here.

Every Event is also handed, as a `Notice`, to the optional `observer` (the notification engine's
`submit`, set by the manager): `notify` hands over a notice without writing an Event (health changes,
a sync starting). The observer must return at once; its failures are logged, never raised.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Literal

from gitward.core.applications import API_VERSION
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.core.notifications import Notice
from gitward.kube import errors
from gitward.kube.client import KubeClient

log = get_logger(__name__)

Observer = Callable[[Notice], None]


class Recorder:
    def __init__(
        self, client: KubeClient, component: str = "gitward-controller", observer: Observer | None = None
    ) -> None:
        self.client = client
        self.component = component
        self.observer = observer

    async def emit(
        self,
        app: Manifest,
        event_type: str,
        reason: str,
        message: str,
        *,
        revision: str = "",
        metadata: dict[str, str] | None = None,
        kind: str = "Application",
    ) -> None:
        severity: Literal["info", "error"] = "error" if event_type == "Warning" else "info"
        self.notify(app, severity, reason, message, revision=revision, metadata=metadata, kind=kind)
        meta = app.get("metadata") or {}
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": {
                "apiVersion": app.get("apiVersion") or API_VERSION,
                "kind": app.get("kind") or kind,
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(event)
        except errors.KubeError as exc:
            log.warning("event not recorded", app=f"{meta.get('namespace')}/{meta.get('name')}", error=exc.message)

    def notify(
        self,
        app: Manifest,
        severity: Literal["info", "error"],
        reason: str,
        message: str,
        *,
        revision: str = "",
        metadata: dict[str, str] | None = None,
        kind: str = "Application",
    ) -> None:
        """Hand a notice about the Application to the observer (no Kubernetes Event)."""
        if self.observer is None:
            return
        meta = app.get("metadata") or {}
        notice = Notice(
            kind,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            severity,
            reason,
            message[:1024],
            revision,
            metadata=dict(metadata or {}),
        )
        try:
            self.observer(notice)
        except Exception:  # notifications never break a reconcile
            log.exception("notification observer failed", app=notice.key, reason=reason)
