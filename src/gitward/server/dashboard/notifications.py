"""The dashboard's notifications page (SPEC §5, §14):

    GET /notifications   Providers and Alerts with their Ready condition, and the recent deliveries

Mounted by gitward.server.dashboard.install. Everything comes from the in-process controller's
notification engine (its Provider and Alert informers and `Notifier.recent`), so the page is served
by the replica that runs the controller and answers 503 elsewhere. What is shown is what a viewer
may see without any Secret: a Provider's address only as scheme and host (a webhook URL put in
`spec.address` is itself a credential), error messages already redacted by the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gitward.controller.notifications import Notifier
from gitward.core.manifests import Manifest
from gitward.server import backend
from gitward.server.dashboard import access, templating

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Backend = Annotated[backend.Backend, Depends(backend.of)]
RECENT = 50


@dataclass(frozen=True)
class Ready:
    tone: str  # ok | bad | unknown
    label: str
    reason: str
    message: str
    since: str


@dataclass(frozen=True)
class ProviderRow:
    name: str
    type: str
    host: str
    secret: str
    ready: Ready
    delivered: int
    failed: int


@dataclass(frozen=True)
class AlertRow:
    name: str
    provider: str
    severity: str
    sources: list[str]
    ready: Ready


@dataclass(frozen=True)
class DeliveryRow:
    at: str
    provider: str
    object: str
    reason: str
    revision: str
    result: str
    error: str


def _ready(obj: Manifest) -> Ready:
    conditions = (obj.get("status") or {}).get("conditions")
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            status = cond.get("status")
            tone, label = (
                ("ok", "Ready")
                if status == "True"
                else ("bad", "Not ready")
                if status == "False"
                else ("unknown", "Unknown")
            )
            return Ready(
                tone,
                label,
                str(cond.get("reason") or ""),
                str(cond.get("message") or ""),
                str(cond.get("lastTransitionTime") or ""),
            )
    return Ready("unknown", "Unknown", "", "", "")


def _host(address: object) -> str:
    """scheme://host[:port] of an address, never its path, query or userinfo."""
    if not isinstance(address, str) or not address:
        return ""
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        return "(invalid)"
    if not parts.hostname:
        return "(invalid)"
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _spec(obj: Manifest) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _name(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def rows(notifier: Notifier) -> tuple[list[ProviderRow], list[AlertRow], list[DeliveryRow]]:
    """The page's tables (pure over the engine's state)."""
    recent = list(notifier.recent)
    providers = []
    for obj in sorted(notifier.providers.store.values(), key=_name):
        spec, name = _spec(obj), _name(obj)
        ref = spec.get("secretRef")
        providers.append(
            ProviderRow(
                name=name,
                type=str(spec.get("type") or ""),
                host=_host(spec.get("address")),
                secret=str(ref.get("name") or "") if isinstance(ref, dict) else "",
                ready=_ready(obj),
                delivered=sum(1 for d in recent if d.provider == name and d.result == "success"),
                failed=sum(1 for d in recent if d.provider == name and d.result != "success"),
            )
        )
    alerts = []
    for obj in sorted(notifier.alerts.store.values(), key=_name):
        spec = _spec(obj)
        ref = spec.get("providerRef")
        sources = spec.get("eventSources")
        alerts.append(
            AlertRow(
                name=_name(obj),
                provider=str(ref.get("name") or "") if isinstance(ref, dict) else "",
                severity=str(spec.get("eventSeverity") or "info"),
                sources=[_source(s) for s in sources if isinstance(s, dict)] if isinstance(sources, list) else [],
                ready=_ready(obj),
            )
        )
    deliveries = [
        DeliveryRow(
            at=datetime.fromtimestamp(d.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            provider=d.provider,
            object=d.object,
            reason=d.reason,
            revision=d.revision,
            result=d.result,
            error=d.error,
        )
        for d in reversed(recent[-RECENT:])
    ]
    return providers, alerts, deliveries


def _source(source: dict[str, Any]) -> str:
    kind, name, namespace = source.get("kind") or "?", source.get("name") or "*", source.get("namespace") or ""
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, principal: access.Viewer, server: Backend) -> HTMLResponse:
    controller = server.controller()
    if controller is None:
        message = "Notifications are shown by the replica that runs the controller; this one does not (yet)."
        raise access.PageError(503, "Not available here", message, principal)
    providers, alerts, deliveries = rows(controller.notifier)
    return templating.page(
        request,
        "notifications.html",
        principal,
        providers=providers,
        alerts=alerts,
        deliveries=deliveries,
        dropped=controller.notifier.dropped,
        generated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
