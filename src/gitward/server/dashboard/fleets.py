"""Fleets on the dashboard (SPEC §5, §11): the ApplicationSets page and an Application's
dependencies.

    GET /applicationsets      every ApplicationSet the server serves: readiness, message, and the
                              Applications it generated with their sync and health

`dependencies(app, apps)` (pure) is what the Application page shows of `spec.dependsOn` (each one
ready or what it lacks), of the set that generated it and of its RollingSync step. ApplicationSets
come from the leader's in-process controller when it runs here (its watch cache), else from the API
server; Applications from the server's informer (gitward.server.backend).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gitward.controller.dependencies import not_ready
from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors as kube_errors
from gitward.server import backend, schemas, views
from gitward.server.dashboard import access, templating

__all__ = ["Dependency", "Fleet", "SetRow", "dependencies", "router"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Dependency:
    namespace: str
    name: str
    problem: str  # "" when Synced and Healthy at its current revision


@dataclass(frozen=True)
class Fleet:
    """What the Application page shows of fleets: empty when the Application takes no part in one."""

    depends_on: list[Dependency] = field(default_factory=list)
    appset: str = ""
    step: str = ""
    waiting: str = ""  # the hold message, while its sync waits

    @property
    def shown(self) -> bool:
        return bool(self.depends_on or self.appset)


@dataclass(frozen=True)
class SetRow:
    namespace: str
    name: str
    ready: str
    reason: str
    message: str
    strategy: str
    applications: list[schemas.ApplicationSummary]
    steps: dict[str, str]


def dependencies(app: Manifest, known: dict[ObjectRef, Manifest]) -> Fleet:
    meta, spec, status = app.get("metadata") or {}, app.get("spec") or {}, app.get("status") or {}
    namespace = str(meta.get("namespace") or "")
    found = []
    for dep in spec.get("dependsOn") or []:
        if not isinstance(dep, dict):
            continue
        ns, name = str(dep.get("namespace") or namespace), str(dep.get("name") or "")
        found.append(Dependency(ns, name, not_ready(known.get(ObjectRef(apps.API_GROUP, "Application", ns, name)))))
    ready = next((c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"), {})
    waiting = (
        ready.get("message", "")
        if ready.get("reason") in ("DependenciesNotReady", "WaitingForRollout", "DependencyCycle")
        else ""
    )
    return Fleet(
        found,
        str((meta.get("labels") or {}).get(sets.SET_LABEL) or ""),
        str((meta.get("annotations") or {}).get(sets.ROLLOUT_STEP) or ""),
        str(waiting),
    )


def set_rows(appsets: Iterable[Manifest], applications: list[Manifest]) -> list[SetRow]:
    rows = []
    for appset in sorted(appsets, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        meta, status = appset["metadata"], appset.get("status") or {}
        mine = [
            a
            for a in applications
            if (a.get("metadata") or {}).get("namespace") == meta.get("namespace")
            and ((a.get("metadata") or {}).get("labels") or {}).get(sets.SET_LABEL) == meta["name"]
        ]
        ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        rows.append(
            SetRow(
                str(meta.get("namespace") or ""),
                str(meta["name"]),
                str(ready.get("status") or "Unknown"),
                str(ready.get("reason") or ""),
                str(ready.get("message") or ""),
                str(((appset.get("spec") or {}).get("strategy") or {}).get("type") or "AllAtOnce"),
                [views.summary(a) for a in mine],
                {
                    str(a["metadata"]["name"]): str(
                        (a["metadata"].get("annotations") or {}).get(sets.ROLLOUT_STEP) or ""
                    )
                    for a in mine
                },
            )
        )
    return rows


async def _appsets(server: backend.Backend) -> tuple[list[Manifest], str]:
    controller = server.controller()
    if controller is not None:
        return controller.appsets.sets(), ""
    try:
        items, _ = await server.client.list(apps.API_VERSION, sets.KIND, server.namespace)
    except kube_errors.KubeError as exc:
        return [], f"ApplicationSets cannot be listed: {exc.message}"
    return items, ""


@router.get("/applicationsets", response_class=HTMLResponse)
async def appset_list(request: Request, principal: access.Viewer) -> HTMLResponse:
    server = backend.of(request)
    try:
        applications = await server.list()
    except backend.Unavailable as exc:
        raise access.PageError(503, "Not ready yet", exc.message, principal) from None
    appsets, note = await _appsets(server)
    visible = [s for s in appsets if server.in_scope(str(s["metadata"].get("namespace") or ""))]
    return templating.page(
        request, "appsets.html", principal, rows=set_rows(visible, applications), note=note, events="/api/v1/events"
    )
