"""Kubernetes Events about Applications (syncs, prunes, failures, drift corrections).

Called by the reconciler; best effort (an Event that cannot be written is logged, never fatal).
Messages are already free of Secret values and credentials when they arrive here.
"""

from __future__ import annotations

import datetime as dt
import secrets

from gitward.core.applications import API_VERSION
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

log = get_logger(__name__)


class Recorder:
    def __init__(self, client: KubeClient, component: str = "gitward-controller") -> None:
        self.client = client
        self.component = component

    async def emit(self, app: Manifest, event_type: str, reason: str, message: str) -> None:
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
                "apiVersion": API_VERSION,
                "kind": "Application",
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
