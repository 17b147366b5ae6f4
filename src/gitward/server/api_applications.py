"""The read side of the REST API (SPEC §4), for viewers and admins:

    GET /api/v1/applications                          summaries (filters: namespace, project, sync, health)
    GET /api/v1/applications/{ns}/{name}              the whole Application
    GET /api/v1/applications/{ns}/{name}/resources    status.resources
    GET /api/v1/applications/{ns}/{name}/history      status.history
    GET /api/v1/applications/{ns}/{name}/diff         unified diffs of the OutOfSync objects

Mounted by gitward.server.app.build. Reads come from the server's Application informer
(gitward.server.backend); only the diff needs the leader's controller (503 elsewhere).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from gitward.appstatus import conditions
from gitward.core.manifests import Manifest
from gitward.server import auth, backend, diffs, schemas, views

Backend = Annotated[backend.Backend, Depends(backend.of)]

COMMON: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Error, "description": "No or an unknown token."},
    503: {"model": schemas.Error, "description": "The Application cache is not synced yet."},
}
ONE: dict[int | str, dict[str, Any]] = {**COMMON, 404: {"model": schemas.Error, "description": "No such Application."}}

router = APIRouter(prefix="/api/v1", tags=["applications"])


async def application(namespace: str, name: str, server: backend.Backend) -> Manifest:
    """The Application or 404 (also used by gitward.server.api_operations)."""
    app = await server.get(namespace, name)
    if app is None:
        raise HTTPException(404, f"Application {namespace}/{name} not found")
    return app


@router.get("/applications", response_model=schemas.ApplicationList, responses=COMMON)
async def list_applications(
    principal: auth.Viewer,
    server: Backend,
    namespace: Annotated[str | None, Query(max_length=253)] = None,
    project: Annotated[str | None, Query(max_length=253)] = None,
    sync: Annotated[str | None, Query(max_length=32, description="Synced | OutOfSync | Unknown")] = None,
    health: Annotated[str | None, Query(max_length=32, description="Healthy | Degraded | ...")] = None,
) -> schemas.ApplicationList:
    """Every Application this server serves, as summaries sorted by namespace and name."""
    items = [views.summary(app) for app in await server.list()]
    items = [
        s
        for s in items
        if namespace in (None, s.namespace)
        and project in (None, s.project)
        and sync in (None, s.syncStatus)
        and health in (None, s.healthStatus)
    ]
    return schemas.ApplicationList(items=items)


@router.get("/applications/{namespace}/{name}", response_model=schemas.ApplicationDetail, responses=ONE)
async def get_application(
    principal: auth.Viewer, server: Backend, namespace: str, name: str
) -> schemas.ApplicationDetail:
    """The whole Application: metadata (without managedFields), spec and status."""
    return views.detail(await application(namespace, name, server))


@router.get("/applications/{namespace}/{name}/resources", response_model=schemas.ResourceList, responses=ONE)
async def get_resources(principal: auth.Viewer, server: Backend, namespace: str, name: str) -> schemas.ResourceList:
    """The managed objects with their sync status and health (`status.resources`)."""
    return schemas.ResourceList(items=views.resources(await application(namespace, name, server)))


@router.get("/applications/{namespace}/{name}/history", response_model=schemas.HistoryList, responses=ONE)
async def get_history(principal: auth.Viewer, server: Backend, namespace: str, name: str) -> schemas.HistoryList:
    """The deployment history, oldest first (`status.history`); rollback takes an entry's `id`."""
    return schemas.HistoryList(items=views.history(await application(namespace, name, server)))


@router.get(
    "/applications/{namespace}/{name}/diff",
    response_model=schemas.DiffList,
    responses={
        **ONE,
        409: {"model": schemas.Error, "description": "The source failed to fetch or render: nothing to compare."},
        503: {"model": schemas.Error, "description": "This replica does not run the controller, or not yet."},
    },
)
async def get_diff(principal: auth.Viewer, server: Backend, namespace: str, name: str) -> schemas.DiffList:
    """For every OutOfSync object, a unified diff (live → desired) of the fields gitward manages."""
    app = await application(namespace, name, server)
    controller = server.owning_controller(namespace, name)
    if controller is None:
        raise backend.Unavailable(
            "diffs are computed by the controller, which does not run in this replica (not the leader, "
            "or another shard); ask the leader replica",
            retry_after=5,
        )
    desired = controller.desired(f"{namespace}/{name}")
    status = app.get("status") or {}
    if desired is None:
        failed = _failed_before_rendering(status)
        if failed:  # nothing to compare until the source is fixed: retrying would not help
            raise HTTPException(409, f"Application {namespace}/{name} has no rendered revision: {failed}")
        raise backend.Unavailable(f"Application {namespace}/{name} has not been rendered yet", retry_after=2)
    revision = str((status.get("sync") or {}).get("revision") or "")
    secrets = controller.secret_values(f"{namespace}/{name}")
    items = await diffs.out_of_sync(server.client, controller, views.resources(app), desired, secrets)
    return schemas.DiffList(revision=revision, items=items)


def _failed_before_rendering(status: dict[str, Any]) -> str:
    """`Reason: message` of the condition that stopped the last reconcile before anything rendered."""
    for kind in ("SourceError", "RenderError"):
        condition = conditions.find(status.get("conditions"), kind)
        if condition is not None and condition.get("status") == "True":
            return f"{condition.get('reason') or kind}: {str(condition.get('message') or '')[:500]}"
    return ""
